"""A campaign's click map: every tracked link with its clicks and the people who clicked,
and the campaign's HTML with those figures beside each link.

People's clicks only: a scanner that follows every link in a message is a
machine (tracking.machines), counted apart on the campaign page.
"""

from copy import copy
from typing import Any

from django.db.models import Count, Q
from django.utils.html import format_html

from postroom.campaigns import services
from postroom.campaigns.models import Campaign, TrackedLink
from postroom.mail.engagement import annotate_links
from postroom.tracking.models import EngagementEvent

PEOPLE = Q(events__machine="")


def link_clicks(campaign: Campaign) -> list[dict]:
    """[{number, url, clicks, people, share}] for every tracked link, most clicked first.

    `share` is the link's part of the campaign's clicks, in percent (None with none).
    """
    found = (
        TrackedLink.objects.filter(campaign=campaign)
        .annotate(
            clicks=Count("events", filter=PEOPLE),
            people=Count("events__subscriber", distinct=True, filter=PEOPLE),
        )
        .order_by("-clicks", "number")
        .values("number", "url", "clicks", "people")
    )
    rows: list[dict[str, Any]] = [dict(r) for r in found]
    total = sum(r["clicks"] for r in rows)
    for r in rows:
        r["share"] = round(100.0 * r["clicks"] / total, 1) if total else None
    return rows


def clickers(campaign: Campaign) -> int:
    """How many people clicked any link of the campaign."""
    return (
        EngagementEvent.objects.filter(
            campaign=campaign, kind=EngagementEvent.Kind.CLICK, machine=""
        )
        .values("subscriber")
        .distinct()
        .count()
    )


def _badge(row: dict) -> str:
    # Inline style: it is shown inside the email's own page (a sandboxed frame).
    return str(
        format_html(
            '<span data-clicks="{}" style="display:inline-block;margin:0 0 0 4px;padding:1px 6px;'
            "border-radius:9px;background:#ffd54f;color:#1d2433;font:bold 12px/1.4 system-ui,"
            'sans-serif;text-decoration:none;white-space:nowrap">{} click{} · {} {}</span>',
            row["clicks"],
            f"{row['clicks']:,}",
            "" if row["clicks"] == 1 else "s",
            f"{row['people']:,}",
            "person" if row["people"] == 1 else "people",
        )
    )


def annotated_html(campaign: Campaign, rows: list[dict]) -> str:
    """The campaign as the sample reader sees it, each tracked link followed by its figures."""
    plain = copy(campaign)
    # Rendered untracked, the links hold their own addresses, which is what is stored.
    plain.track_clicks = plain.track_opens = False
    _, html, _ = services.preview(plain)
    return annotate_links(html, {r["url"]: _badge(r) for r in rows})
