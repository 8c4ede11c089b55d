"""Everything Postroom holds about one subscriber, as one document (a GDPR access request).

It gathers what the audience, the ledger and tracking keep about the person:
the profile with its consent records, every message addressed to them, their
opens and clicks, bounces and unsubscribes. Hashes kept after an erasure are
not about a person any more and are not included.
"""

from typing import Any

from postroom.audience.cli import subscriber_json
from postroom.audience.models import Subscriber
from postroom.delivery.models import Delivery
from postroom.tracking.models import Bounce, EngagementEvent, UnsubscribeEvent


def _when(value) -> str | None:
    return value.isoformat() if value else None


def export(subscriber: Subscriber) -> dict[str, Any]:
    """The document; ordered oldest first so it reads as a history."""
    profile = Subscriber.objects.prefetch_related("subscriptions__mailing_list", "tags").get(
        pk=subscriber.pk
    )
    deliveries = Delivery.objects.filter(subscriber=subscriber).select_related("campaign")
    events = EngagementEvent.objects.filter(subscriber=subscriber).select_related(
        "campaign", "link"
    )
    return {
        "profile": subscriber_json(profile, detail=True),
        "messages": [
            {
                "campaign": d.campaign.name,
                "email": d.email,
                "state": d.state,
                "sent_at": _when(d.sent_at),
                "message_id": d.message_id,
            }
            for d in deliveries.order_by("pk")
        ],
        "engagement": [
            {
                "kind": e.kind,
                "at": _when(e.at),
                "campaign": e.campaign.name,
                "url": e.link.url if e.link else None,
                "ip": e.ip,
            }
            for e in events.order_by("at", "pk")
        ],
        "bounces": [
            {"kind": b.kind, "at": _when(b.at), "status": b.status, "reason": b.reason}
            for b in Bounce.objects.filter(subscriber=subscriber).order_by("at", "pk")
        ],
        "unsubscribes": [
            {"method": u.method, "lists": u.lists, "at": _when(u.at)}
            for u in UnsubscribeEvent.objects.filter(subscriber=subscriber).order_by("at", "pk")
        ],
    }
