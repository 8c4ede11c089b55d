"""Opens and clicks in the database: link numbers, events, counts, segment fields.

mail.engagement instruments a campaign's HTML without a database; this
module stores what that needs (each tracked URL once per campaign, under a
number the click tokens carry), records what readers do through the signed
URLs, counts it per campaign, and lets segments ask "opened campaign 12" or
"clicked anything in the last 30 days".
"""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext

from postroom.audience import segments
from postroom.audience.models import Subscriber
from postroom.audience.segments import _days, has_row
from postroom.campaigns.models import Campaign, TrackedLink
from postroom.delivery.models import Delivery
from postroom.delivery.progress import campaign_counts
from postroom.errors import NotFound
from postroom.mail.links import BadToken
from postroom.tracking import machines
from postroom.tracking.links import verify
from postroom.tracking.models import Bounce, EngagementEvent

Kind = EngagementEvent.Kind


def _ids(token: str, kind: str) -> tuple[int, ...]:
    name, ids = verify(token)
    if name != kind:
        raise BadToken(gettext("this link is not valid here"))
    return ids


# A reader's clicks on two different links of a campaign closer together than this are a
# scanner following every link (a person reads, then clicks one).
BURST = timedelta(seconds=2)


def _seconds_after_delivery(campaign_id: int, subscriber_id: int, now) -> float | None:
    sent_at = (
        Delivery.objects.filter(campaign_id=campaign_id, subscriber_id=subscriber_id)
        .values_list("sent_at", flat=True)
        .first()
    )
    return (now - sent_at).total_seconds() if sent_at else None


def _record(
    campaign_id: int,
    subscriber_id: int,
    kind: str,
    link_id: int | None,
    ip: str | None,
    user_agent: str = "",
) -> None:
    # Subscriber 0 is the preview's sample reader; an erased subscriber is gone: nothing to count.
    if not Subscriber.objects.filter(pk=subscriber_id).exists():
        return
    now = timezone.now()
    # The IP is read to tell a machine, and stored only with POSTROOM_TRACK_IP.
    machine = machines.machine_reason(
        ip, user_agent, _seconds_after_delivery(campaign_id, subscriber_id, now), kind
    )
    if kind == Kind.CLICK and not machine:
        burst = EngagementEvent.objects.filter(
            campaign_id=campaign_id, subscriber_id=subscriber_id, kind=Kind.CLICK,
            at__gte=now - BURST,
        ).exclude(link_id=link_id)  # fmt: skip
        if burst.update(machine=machines.BURST) or burst.filter(machine__gt="").exists():
            machine = machines.BURST
    EngagementEvent.objects.create(
        campaign_id=campaign_id,
        subscriber_id=subscriber_id,
        kind=kind,
        link_id=link_id,
        at=now,
        ip=ip if settings.POSTROOM_TRACK_IP and ip else None,
        machine=machine,
    )


def record_open(token: str, ip: str | None = None, user_agent: str = "") -> None:
    """Count an open for a genuine open token; BadToken or NotFound otherwise."""
    campaign_id, subscriber_id = _ids(token, "open")
    if not Campaign.objects.filter(pk=campaign_id).exists():
        raise NotFound(gettext("this campaign no longer exists"))
    _record(campaign_id, subscriber_id, Kind.OPEN, None, ip, user_agent)


def follow_click(token: str, ip: str | None = None, user_agent: str = "") -> str:
    """Count a click and return where it leads: only ever a URL stored for the campaign."""
    campaign_id, subscriber_id, number = _ids(token, "click")
    link = TrackedLink.objects.filter(campaign_id=campaign_id, number=number).first()
    if link is None:
        raise NotFound(gettext("this link is not part of the campaign"))
    _record(campaign_id, subscriber_id, Kind.CLICK, link.pk, ip, user_agent)
    return link.url


def _rate(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def _machine(counts: dict[str, int]) -> dict[str, Any]:
    by = [
        {"reason": reason, "label": machines.LABELS.get(reason, reason), "count": n}
        for reason, n in sorted(counts.items(), key=lambda item: -item[1])
    ]
    return {"total": sum(counts.values()), "by": by}


def campaign_engagement(campaign: Campaign) -> dict[str, Any]:
    """Opens, clicks (unique readers and total events), links and bounces of one campaign."""

    events = EngagementEvent.objects.filter(campaign=campaign)
    totals = {
        kind: (total, unique)
        for kind, total, unique in events.filter(machine="")
        .order_by()
        .values_list("kind")
        .annotate(total=Count("id"), unique=Count("subscriber", distinct=True))
    }
    opens_total, opens_unique = totals.get(Kind.OPEN, (0, 0))
    clicks_total, clicks_unique = totals.get(Kind.CLICK, (0, 0))
    # Machine opens and clicks: counted apart, by reason, never in the rates.
    machine: dict[str, dict[str, int]] = {Kind.OPEN: {}, Kind.CLICK: {}}
    for kind, reason, n in (
        events.exclude(machine="").order_by().values_list("kind", "machine").annotate(n=Count("id"))
    ):
        machine[kind][reason] = n
    sent = campaign_counts(campaign)["sent"]
    links = [
        {"url": url, "total": total, "unique": unique}
        for url, total, unique in TrackedLink.objects.filter(campaign=campaign)
        .annotate(  # people's clicks only: a scanner follows every link
            total=Count("events", filter=Q(events__machine="")),
            unique=Count("events__subscriber", distinct=True, filter=Q(events__machine="")),
        )
        .filter(total__gt=0)
        .order_by("-total", "number")
        .values_list("url", "total", "unique")[:20]
    ]
    bounces = dict(
        Bounce.objects.filter(campaign=campaign)
        .order_by()
        .values_list("kind")
        .annotate(n=Count("id"))
    )
    return {
        "track_opens": campaign.track_opens,
        "track_clicks": campaign.track_clicks,
        "sent": sent,
        "opens": {"unique": opens_unique, "total": opens_total, "rate": _rate(opens_unique, sent)},
        "clicks": {
            "unique": clicks_unique,
            "total": clicks_total,
            "rate": _rate(clicks_unique, sent),
        },
        "links": links,
        "machine_opens": _machine(machine[Kind.OPEN]),
        "machine_clicks": _machine(machine[Kind.CLICK]),
        "bounces": {kind: bounces.get(kind, 0) for kind in Bounce.Kind.values},
    }


# --- segments: "opened" and "clicked" ---------------------------------------------------

OPS = {"in_campaign": "in campaign", "in_last_days": "in the last N days"}


def _check(op: str, value: Any, node: dict) -> Any:
    if op == "in_last_days":
        return _days(value)
    if isinstance(value, str) and value.strip().lower() == "any":
        return "any"
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError('the value must be a campaign id or "any"')
    if not Campaign.objects.filter(pk=value).exists():
        raise ValueError(f"there is no campaign {value}")
    return value


def _compiler(kind: str):
    def compile(op: str, value: Any, node: dict) -> Q:
        # Events of erased subscribers have no subscriber: leave them out, or
        # "not opened" (NOT IN a list holding NULL) would match nobody.
        # Machine opens and clicks (Apple MPP, scanners) say nothing about the reader.
        rows = EngagementEvent.objects.filter(kind=kind, subscriber__isnull=False, machine="")
        if op == "in_last_days":
            rows = rows.filter(at__gte=timezone.now() - timedelta(days=value))
        elif value != "any":
            rows = rows.filter(campaign_id=value)
        return has_row(rows)

    return compile


def register_segment_fields() -> None:
    """Add `opened` and `clicked` to segments (called once, when the app is ready)."""

    for op, label in OPS.items():
        segments.OP_LABELS.setdefault(op, label)
    for name, label, kind in (
        ("opened", "Opened", Kind.OPEN),
        ("clicked", "Clicked a link", Kind.CLICK),
    ):
        segments.register_field(segments.Field(name, label, tuple(OPS), _check, _compiler(kind)))
