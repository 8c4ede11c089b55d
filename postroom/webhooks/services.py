"""Webhook endpoints: add, change, remove, rotate the secret, send a test, read the log.

The UI, the CLI and the API call these; each checks everything before it writes.
"""

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from django.db import IntegrityError, transaction
from django.db.models import ProtectedError, QuerySet
from django.utils.translation import gettext

from postroom.errors import InvalidInput, NotFound
from postroom.webhooks import sender, signing
from postroom.webhooks.events import EVENTS, TEST, envelope
from postroom.webhooks.models import Endpoint, WebhookDelivery


def clean_url(url: str) -> str:
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(
            gettext("%(url)s is not an http(s) URL: write it as https://example.org/hook")
            % {"url": repr(url)}
        )
    if parts.username or parts.password:
        raise InvalidInput(
            gettext("put no user or password in the URL: the signature authenticates")
        )
    if len(url) > 2000:
        raise InvalidInput(gettext("the URL is longer than 2,000 characters"))
    return url


def clean_events(events: Iterable[str]) -> list[str]:
    chosen = list(dict.fromkeys(e.strip() for e in events if e and e.strip()))
    if not chosen:
        raise InvalidInput(
            gettext("choose at least one event: %(events)s") % {"events": ", ".join(EVENTS)}
        )
    unknown = [e for e in chosen if e not in EVENTS]
    if unknown:
        raise InvalidInput(
            gettext("unknown event %(event)s: use one of %(events)s")
            % {"event": repr(unknown[0]), "events": ", ".join(EVENTS)}
        )
    return [e for e in EVENTS if e in chosen]  # the catalogue's order


def clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name or len(name) > 100:
        raise InvalidInput(gettext("an endpoint needs a name of 1 to 100 characters"))
    return name


def get_endpoint(key: str | int) -> Endpoint:
    """By id or by name."""
    found = None
    if isinstance(key, int) or str(key).isdigit():
        found = Endpoint.objects.filter(pk=int(key)).first()
    found = found or Endpoint.objects.filter(name=str(key)).first()
    if found is None:
        raise NotFound(gettext("no webhook endpoint %(key)s") % {"key": repr(key)})
    return found


def create_endpoint(name: str, url: str, events: Iterable[str]) -> tuple[Endpoint, str]:
    """A new endpoint and its secret (returned this once)."""
    endpoint = Endpoint(name=clean_name(name), url=clean_url(url), events=clean_events(events))
    endpoint.secret = signing.new_secret()
    try:
        with transaction.atomic():
            endpoint.save()
    except IntegrityError:
        raise InvalidInput(
            gettext("an endpoint named %(name)s already exists") % {"name": repr(endpoint.name)}
        ) from None
    return endpoint, endpoint.secret


def update_endpoint(endpoint: Endpoint, **changes: Any) -> Endpoint:
    """Keys: name, url, events, active. Everything is checked before anything is saved."""
    unknown = set(changes) - {"name", "url", "events", "active"}
    if unknown:
        raise InvalidInput(
            gettext("an endpoint has no setting %(setting)s")
            % {"setting": repr(sorted(unknown)[0])}
        )
    cleaned: dict[str, Any] = {}
    if "name" in changes:
        cleaned["name"] = clean_name(changes["name"])
    if "url" in changes:
        cleaned["url"] = clean_url(changes["url"])
    if "events" in changes:
        cleaned["events"] = clean_events(changes["events"])
    if "active" in changes:
        cleaned["active"] = bool(changes["active"])
    for field, value in cleaned.items():
        setattr(endpoint, field, value)
    try:
        with transaction.atomic():
            endpoint.save()
    except IntegrityError:
        raise InvalidInput(
            gettext("an endpoint named %(name)s already exists") % {"name": repr(endpoint.name)}
        ) from None
    return endpoint


def rotate_secret(endpoint: Endpoint) -> str:
    """A new secret from now on (returned this once); the old one stops signing at once."""
    endpoint.secret = signing.new_secret()
    endpoint.save(update_fields=["secret"])
    return endpoint.secret


def delete_endpoint(endpoint: Endpoint) -> None:
    try:
        with transaction.atomic():
            endpoint.delete()  # its deliveries and their log go with it
    except ProtectedError:  # a sequence's webhook step calls it
        raise InvalidInput(
            gettext(
                "the endpoint %(name)s is called by a sequence's webhook step: delete or change "
                "that step first"
            )
            % {"name": repr(endpoint.name)}
        ) from None


def send_test(endpoint: Endpoint) -> WebhookDelivery:
    """POST a test event now (not queued behind others) and log it like any delivery.

    Only once: a test that fails is not retried (it is in the log with the answer).
    """
    event_id, body = envelope(TEST, {"endpoint": endpoint.name, "message": "a test from Postroom"})
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint, event=TEST, event_id=event_id, body=body, next_attempt_at=0
    )
    answer = sender.attempt(delivery)
    if not answer.ok:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(state=WebhookDelivery.State.FAILED)
        delivery.state = WebhookDelivery.State.FAILED
    return delivery


def log(endpoint: Endpoint, limit: int = 50) -> QuerySet[WebhookDelivery]:
    """Its latest deliveries, newest first, each with its attempts."""
    return endpoint.deliveries.prefetch_related("attempt_log").order_by("-pk")[:limit]


def endpoint_json(endpoint: Endpoint) -> dict[str, Any]:
    """What the CLI and the API show of an endpoint: never its secret."""
    return {
        "id": endpoint.pk,
        "name": endpoint.name,
        "url": endpoint.url,
        "events": endpoint.events,
        "active": endpoint.active,
        "created_at": endpoint.created_at.isoformat(),
    }


def delivery_json(delivery: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": delivery.pk,
        "event": delivery.event,
        "event_id": delivery.event_id,
        "state": delivery.state,
        "attempts": delivery.attempts,
        "last_status": delivery.last_status,
        "last_error": delivery.last_error,
        "created_at": delivery.created_at.isoformat(),
        "delivered_at": delivery.delivered_at.isoformat() if delivery.delivered_at else None,
        "next_attempt_at": delivery.next_attempt_at
        if delivery.state == WebhookDelivery.State.PENDING
        else None,
        "log": [
            {
                "at": a.at.isoformat(),
                "status": a.status,
                "error": a.error,
                "duration_ms": a.duration_ms,
            }
            for a in delivery.attempt_log.all()
        ],
    }
