"""The events an endpoint can choose, and `emit`: the one way an event enters the queue.

`emit` writes one WebhookDelivery row per endpoint that wants the event, in
the caller's transaction: an event whose change rolls back is never sent, and
one that commits is sent even if the process dies a moment later (the worker's
side thread sends the rows, webhooks.sender). It never raises: a webhook must
not stop a sign-up, a bounce or a campaign; a failure is logged.
"""

import json
import logging
import uuid
from typing import Any

from django.db import DatabaseError, transaction
from django.utils import timezone

from postroom.storedtext import gettext_noop
from postroom.webhooks.models import Endpoint, WebhookDelivery

log = logging.getLogger("postroom.webhooks")

# In English for the API and the CLI; the webhooks page translates them (gettext_noop).
EVENTS: dict[str, str] = {
    "subscriber.created": gettext_noop(
        "a subscriber was added (an import sends import.finished instead)"
    ),
    "subscriber.confirmed": gettext_noop("a subscription was confirmed (the double opt-in click)"),
    "subscriber.unsubscribed": gettext_noop("a subscriber left lists, or everything"),
    "subscriber.bounced": gettext_noop("a bounce was recorded for an address"),
    "subscriber.complained": gettext_noop("an address reported a campaign as spam"),
    "campaign.started": gettext_noop("a campaign started sending"),
    "campaign.paused": gettext_noop("a campaign was paused, by someone or by itself"),
    "campaign.finished": gettext_noop("a campaign has no recipient left to send to"),
    "delivery.failed": gettext_noop("a recipient failed for good (the server refused it)"),
    "import.finished": gettext_noop("an import finished"),
    "alert.raised": gettext_noop(
        "an alert for the admins: a campaign paused itself or finished, a sender"
        " has been unreachable for a while, a worker died or was restarted"
    ),
}
TEST = "webhook.test"  # sent by the "send test" button only
# Sent only to the endpoint a sequence's webhook step names, when a person reaches it
# (automations.hooks), so no endpoint chooses it in its events.
STEP = "automation.step"


def envelope(kind: str, data: dict[str, Any], event_id: str | None = None) -> tuple[str, str]:
    """The event's id and the JSON body every endpoint gets for it."""
    event_id = event_id or uuid.uuid4().hex
    body = {"id": event_id, "type": kind, "created_at": timezone.now().isoformat(), "data": data}
    return event_id, json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=str)


def emit(kind: str, data: dict[str, Any]) -> int:
    """Queue `kind` for every active endpoint that chose it; how many deliveries were queued."""
    return emit_many(kind, [data])


def emit_many(kind: str, events: list[dict[str, Any]]) -> int:
    """Several events of one kind (a batch's failed recipients) in one query and one insert."""
    if kind not in EVENTS:
        raise ValueError(f"unknown webhook event {kind!r}")  # a programming error, not input
    if not events:
        return 0
    try:
        with transaction.atomic():  # a savepoint: a failure here leaves the caller's work alone
            wanted = [
                pk
                for pk, chosen in Endpoint.objects.filter(active=True).values_list("pk", "events")
                if kind in chosen
            ]
            rows = []
            for data in events if wanted else []:
                event_id, body = envelope(kind, data)
                rows += [
                    WebhookDelivery(endpoint_id=pk, event=kind, event_id=event_id, body=body)
                    for pk in wanted
                ]
            WebhookDelivery.objects.bulk_create(rows)
    except DatabaseError:
        log.exception("could not queue the webhook event %s", kind)
        return 0
    return len(rows)
