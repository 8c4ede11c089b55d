"""Template tags for the admin UI shell: navigation links, progress bars, moments in time,
waiting senders."""

from datetime import datetime

from django import template
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html

from postroom.delivery import waiting

register = template.Library()


@register.simple_tag(takes_context=True)
def nav_link(context, url_name: str, label: str) -> str:
    """A navigation link, marked active on its own pages; nothing if the page doesn't exist yet.

    Areas arrive one at a time, so the navigation names pages that may not be
    routed yet; a missing name must hide a link, never crash every page.
    """
    try:
        url = reverse(url_name)
    except NoReverseMatch:
        return ""
    request = context.get("request")
    path = request.path if request else ""
    active = path == url if url == "/" else path.startswith(url)
    if active:
        return format_html(
            '<a class="nav-link active" aria-current="page" href="{}">{}</a>', url, label
        )
    return format_html('<a class="nav-link" href="{}">{}</a>', url, label)


@register.simple_tag
def progress(done: int | None, total: int | None, tone: str = "") -> str:
    """A progress bar for `done` of `total`, safe with a zero or missing total."""
    done, total = done or 0, total or 0
    percent = 0.0 if total <= 0 else max(0.0, min(100.0, 100.0 * done / total))
    return format_html(
        '<div class="progress {}" role="progressbar" aria-valuemin="0" aria-valuemax="100"'
        ' aria-valuenow="{}"><span style="width: {}%"></span></div>',
        tone,
        f"{percent:.0f}",
        f"{percent:.1f}",
    )


@register.filter
def moment(value: datetime | None) -> str:
    """A time as people read it: "14:02:05, 3 min ago" today, "28 Nov 14:02, 3 days ago" before.

    The exact instant stays in the `<time>` element for copying into a log search.
    """
    if value is None:
        return ""
    local, now = timezone.localtime(value), timezone.localtime()
    clock = local.strftime("%H:%M:%S" if local.date() == now.date() else "%-d %b %Y %H:%M")
    return format_html(
        '<time datetime="{}" title="{}">{}, {}</time>',
        value.isoformat(),
        local.strftime("%Y-%m-%d %H:%M:%S %Z"),
        clock,
        _distance((now - local).total_seconds()),
    )


def _distance(seconds: float) -> str:
    ahead, seconds = seconds < 0, abs(seconds)
    for size, unit in ((86400, " days"), (3600, " h"), (60, " min")):
        if seconds >= size:
            amount = f"{int(seconds // size)}{unit}"
            break
    else:
        amount = f"{int(seconds)} s"
    if amount == "1 days":
        amount = "1 day"
    return f"in {amount}" if ahead else f"{amount} ago"


@register.filter
def waiting_text(info: dict | None) -> str:
    """A sender's wait as people read it: "waiting for sender 'relay' since 14:02 (3 min ago),
    next try in 12 s — connection refused" (escaped by the template like any text)."""
    return waiting.waiting_text(info) if info else ""
