"""Template tags for the admin UI shell: navigation links, progress bars, waiting senders."""

from django import template
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from postroom.delivery import health

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
def waiting_text(info: dict | None) -> str:
    """A sender's wait as people read it: "waiting for sender 'relay' since 14:02 (3 min ago),
    next try in 12 s — connection refused" (escaped by the template like any text)."""
    return health.waiting_text(info) if info else ""
