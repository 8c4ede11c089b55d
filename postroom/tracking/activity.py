"""Opens and clicks in the database: link numbers, events, counts, segment fields.

tracking.engagement instruments a campaign's HTML without a database; this
module stores what that needs (each tracked URL once per campaign, under a
number the click tokens carry), records what readers do through the signed
URLs, counts it per campaign, and lets segments ask "opened campaign 12" or
"clicked anything in the last 30 days".
"""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Q
from django.utils import timezone

from postroom.audience.models import Subscriber
from postroom.campaigns.models import Campaign
from postroom.errors import NotFound
from postroom.tracking.links import BadToken, verify
from postroom.tracking.models import Bounce, EngagementEvent, TrackedLink

Kind = EngagementEvent.Kind


def number_links(campaign_id: int, urls: tuple[str, ...] | list[str]) -> list[int]:
    """The stored number of each URL, numbering new ones after the campaign's last.

    Numbers never change once given, so a message sent before the campaign's
    layout was edited still redirects where it said. Two workers compiling at
    once may race to number the same URL: the loser reads the winner's numbers.
    """
    for _ in range(5):
        known = dict(
            TrackedLink.objects.filter(campaign_id=campaign_id, url__in=urls).values_list(
                "url", "number"
            )
        )
        missing = [url for url in urls if url not in known]
        if not missing:
            return [known[url] for url in urls]
        try:
            with transaction.atomic():
                top = TrackedLink.objects.filter(campaign_id=campaign_id).aggregate(
                    top=Max("number")
                )["top"]
                first = 0 if top is None else top + 1
                TrackedLink.objects.bulk_create(
                    TrackedLink(campaign_id=campaign_id, number=first + i, url=url)
                    for i, url in enumerate(missing)
                )
        except IntegrityError:
            continue
    raise RuntimeError(f"could not number the links of campaign {campaign_id}")


def _ids(token: str, kind: str) -> tuple[int, ...]:
    name, ids = verify(token)
    if name != kind:
        raise BadToken("this link is not valid here")
    return ids


def _record(campaign_id: int, subscriber_id: int, kind: str, link_id: int | None, ip: str | None):
    # Subscriber 0 is the preview's sample reader; an erased subscriber is gone: nothing to count.
    if not Subscriber.objects.filter(pk=subscriber_id).exists():
        return
    EngagementEvent.objects.create(
        campaign_id=campaign_id,
        subscriber_id=subscriber_id,
        kind=kind,
        link_id=link_id,
        ip=ip if settings.POSTROOM_TRACK_IP and ip else None,
    )


def record_open(token: str, ip: str | None = None) -> None:
    """Count an open for a genuine open token; BadToken or NotFound otherwise."""
    campaign_id, subscriber_id = _ids(token, "open")
    if not Campaign.objects.filter(pk=campaign_id).exists():
        raise NotFound("this campaign no longer exists")
    _record(campaign_id, subscriber_id, Kind.OPEN, None, ip)


def follow_click(token: str, ip: str | None = None) -> str:
    """Count a click and return where it leads: only ever a URL stored for the campaign."""
    campaign_id, subscriber_id, number = _ids(token, "click")
    link = TrackedLink.objects.filter(campaign_id=campaign_id, number=number).first()
    if link is None:
        raise NotFound("this link is not part of the campaign")
    _record(campaign_id, subscriber_id, Kind.CLICK, link.pk, ip)
    return link.url


def _rate(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def campaign_engagement(campaign: Campaign) -> dict[str, Any]:
    """Opens, clicks (unique readers and total events), links and bounces of one campaign."""
    from postroom.delivery.progress import campaign_counts

    totals = {
        kind: (total, unique)
        for kind, total, unique in EngagementEvent.objects.filter(campaign=campaign)
        .order_by()
        .values_list("kind")
        .annotate(total=Count("id"), unique=Count("subscriber", distinct=True))
    }
    opens_total, opens_unique = totals.get(Kind.OPEN, (0, 0))
    clicks_total, clicks_unique = totals.get(Kind.CLICK, (0, 0))
    sent = campaign_counts(campaign)["sent"]
    links = [
        {"url": url, "total": total, "unique": unique}
        for url, total, unique in TrackedLink.objects.filter(campaign=campaign)
        .annotate(
            total=Count("events"),
            unique=Count("events__subscriber", distinct=True),
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
        "bounces": {kind: bounces.get(kind, 0) for kind in Bounce.Kind.values},
    }


# --- segments: "opened" and "clicked" ---------------------------------------------------

OPS = {"in_campaign": "in campaign", "in_last_days": "in the last N days"}


def _check(op: str, value: Any, node: dict) -> Any:
    from postroom.audience.segments import _days

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
        from postroom.audience.segments import has_row

        # Events of erased subscribers have no subscriber: leave them out, or
        # "not opened" (NOT IN a list holding NULL) would match nobody.
        rows = EngagementEvent.objects.filter(kind=kind, subscriber__isnull=False)
        if op == "in_last_days":
            rows = rows.filter(at__gte=timezone.now() - timedelta(days=value))
        elif value != "any":
            rows = rows.filter(campaign_id=value)
        return has_row(rows)

    return compile


def register_segment_fields() -> None:
    """Add `opened` and `clicked` to segments (called once, when the app is ready)."""
    from postroom.audience import segments

    for op, label in OPS.items():
        segments.OP_LABELS.setdefault(op, label)
    for name, label, kind in (
        ("opened", "Opened", Kind.OPEN),
        ("clicked", "Clicked a link", Kind.CLICK),
    ):
        segments.register_field(segments.Field(name, label, tuple(OPS), _check, _compiler(kind)))
