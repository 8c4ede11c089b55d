"""What each event carries, for the few places that raise them.

One place per event: subscriber.created from the Subscriber row's creation
(a post_save signal, so every way of adding one person counts; bulk imports
skip signals and send import.finished instead); confirmed and unsubscribed
from audience.services; bounced and complained from tracking.bounces.record;
the campaign events from the campaign event log (delivery.events.record),
which every start, pause and finish already goes through; import.finished from
imports.services.
"""

from typing import Any

from django.db.models.signals import post_save

from postroom.webhooks.events import emit


def subscriber_data(subscriber: Any) -> dict[str, Any]:
    return {
        "id": subscriber.pk,
        "email": subscriber.email,
        "name": subscriber.name,
        "status": subscriber.status,
        "attributes": subscriber.attributes,
    }


def subscriber_event(kind: str, subscriber: Any, **extra: Any) -> int:
    return emit(kind, {"subscriber": subscriber_data(subscriber), **extra})


def _created(sender: type, instance: Any, created: bool, raw: bool = False, **kwargs: Any) -> None:
    if created and not raw:
        subscriber_event("subscriber.created", instance)


def connect() -> None:
    post_save.connect(
        _created, sender="audience.Subscriber", dispatch_uid="webhooks-subscriber-created"
    )
