"""Template tags for the admin UI shell: navigation links, progress bars, moments in time,
campaign states as they really are, waiting senders, decoded headers."""

import re
from datetime import datetime
from email.errors import HeaderParseError
from email.header import decode_header, make_header

from django import template
from django.urls import NoReverseMatch, reverse
from django.utils import dateformat, timezone
from django.utils.html import format_html
from django.utils.translation import gettext, pgettext_lazy

from postroom import storedtext
from postroom.campaigns import windows
from postroom.campaigns.models import Campaign
from postroom.delivery import waiting
from postroom.web import first_run

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
def progress(done: int | None, total: int | None, tone: str = "", label: str = "") -> str:
    """A progress bar for `done` of `total`, safe with a zero or missing total.

    It carries an accessible name (screen readers announce "progress bar" alone
    otherwise): `label`, or "N of M done".
    """
    done, total = done or 0, total or 0
    percent = 0.0 if total <= 0 else max(0.0, min(100.0, 100.0 * done / total))
    return format_html(
        '<div class="progress {}" role="progressbar" aria-label="{}" aria-valuemin="0"'
        ' aria-valuemax="100" aria-valuenow="{}"><span style="width: {}%"></span></div>',
        tone,
        label
        or gettext("%(done)s of %(total)s done") % {"done": f"{done:,}", "total": f"{total:,}"},
        f"{percent:.0f}",
        f"{percent:.1f}",
    )


def as_datetime(value: datetime | str | None) -> datetime | None:
    """A datetime from a model field or from the ISO 8601 text that JSON summaries carry."""
    if isinstance(value, datetime):
        return value if timezone.is_aware(value) else timezone.make_aware(value)
    if isinstance(value, str) and value:
        try:
            return as_datetime(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return None
    return None


@register.filter
def moment(value: datetime | str | None) -> str:
    """A time as people read it, in the reader's time zone, never a raw ISO stamp.

    Past: "14:02, 3 min ago" today, "28 Nov 2026 14:02, 3 days ago" before.
    Future (an ETA, a next try, a schedule): "in 12 min (14:34)", relative first
    because that is what someone waiting wants to know. The exact instant stays
    in the `<time>` element for copying into a log search.
    """
    moment_at = as_datetime(value)
    if moment_at is None:
        return "" if value in (None, "") else str(value)
    local, now = timezone.localtime(moment_at), timezone.localtime()
    # Django's date format, not strftime: the month's name in the reader's language.
    clock = dateformat.format(local, "H:i" if local.date() == now.date() else "j M Y H:i")
    seconds = (now - local).total_seconds()
    distance = _distance(seconds)
    if seconds < 0:
        text = gettext("%(distance)s (%(clock)s)") % {"distance": distance, "clock": clock}
    else:
        text = gettext("%(clock)s, %(distance)s") % {"distance": distance, "clock": clock}
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        moment_at.replace(microsecond=0).isoformat(),
        local.strftime("%Y-%m-%d %H:%M:%S %Z"),
        text,
    )


def _distance(seconds: float) -> str:
    """ "in 12 min", "3 s ago", "2 h 5 min ago", "4 days ago"."""
    ahead, seconds = seconds < 0, abs(seconds)
    amount = waiting.duration(seconds)
    return gettext("in %(amount)s") % {"amount": amount} if ahead else waiting.ago(amount)


@register.filter
def waiting_text(info: dict | None) -> str:
    """A sender's wait as people read it: "waiting for sender 'relay' since 14:02 (3 min ago),
    next try in 12 s — connection refused" (escaped by the template like any text)."""
    return waiting.waiting_text(info) if info else ""


def shown_state(status: str, summary: dict | None) -> tuple[str, str]:
    """(css class, words) for a campaign as it really is: a running campaign that waits
    for a sender or has stalled says so, on every page, instead of "running"."""
    if status == "running" and summary:
        if summary.get("stalled"):
            return "stalled", gettext("Stalled")
        if summary.get("waiting"):
            return "waiting", gettext("Waiting for sender")
        if (summary.get("window") or {}).get("waiting"):
            return "waiting", gettext("Waiting for send window")
    try:
        return status, str(Campaign.Status(status).label)
    except ValueError:
        return status, status


# The weekdays as a send window writes them ("mon-fri"), in the admin's language.
DAY_WORDS = {
    "mon": pgettext_lazy("a weekday in a send window", "mon"),
    "tue": pgettext_lazy("a weekday in a send window", "tue"),
    "wed": pgettext_lazy("a weekday in a send window", "wed"),
    "thu": pgettext_lazy("a weekday in a send window", "thu"),
    "fri": pgettext_lazy("a weekday in a send window", "fri"),
    "sat": pgettext_lazy("a weekday in a send window", "sat"),
    "sun": pgettext_lazy("a weekday in a send window", "sun"),
}


@register.filter
def window_text(window: dict | None) -> str:
    """A send window (SendWindow.as_dict, or the summary's) as its `description` says it,
    in the admin's language: "09:00-17:00, mon-fri in each reader's time zone"."""
    if not window:
        return ""
    if window.get("local_time"):
        if window.get("local_date"):
            return gettext("at %(time)s on %(date)s in each reader's time zone") % {
                "time": window["local_time"],
                "date": window["local_date"],
            }
        return gettext("at %(time)s in each reader's time zone") % {"time": window["local_time"]}
    if window.get("hours"):
        days = [d for d in window.get("days") or [] if d in windows.DAYS]
        mask = sum(1 << windows.DAYS.index(d) for d in days)
        if not days or mask == windows.EVERY_DAY:
            return gettext("%(hours)s in each reader's time zone") % {"hours": window["hours"]}
        named = re.sub(r"[a-z]+", lambda m: str(DAY_WORDS[m[0]]), windows.format_days(mask))
        return gettext("%(hours)s, %(days)s in each reader's time zone") % {
            "hours": window["hours"],
            "days": named,
        }
    return gettext("any time")


def _window_wait(window: dict) -> str:
    """Why a campaign waits for its window, for a badge's title (plain text: no <time>)."""
    opens = as_datetime(window.get("next_opening"))
    if opens is None:
        return gettext("waiting for its send window (%(window)s)") % {"window": window_text(window)}
    return gettext("waiting for its send window (%(window)s), next opening %(opens)s") % {
        "window": window_text(window),
        "opens": dateformat.format(timezone.localtime(opens), "j M Y H:i"),
    }


# Codes as stored (the API and CLI keep them) in the reader's language on pages: a
# subscriber's or subscription's state, where a consent came from, a campaign event.
CODE_WORDS = {
    "active": pgettext_lazy("a subscriber's state", "active"),
    "blocklisted": pgettext_lazy("a subscriber's state", "blocklisted"),
    "unconfirmed": pgettext_lazy("a subscription's state", "unconfirmed"),
    "confirmed": pgettext_lazy("a subscription's state", "confirmed"),
    "unsubscribed": pgettext_lazy("a subscription's state", "unsubscribed"),
    "import": pgettext_lazy("where a consent came from", "import"),
    "form": pgettext_lazy("where a consent came from", "form"),
    "api": pgettext_lazy("where a consent came from", "api"),
    "admin": pgettext_lazy("where a consent came from", "admin"),
    "cli": pgettext_lazy("where a consent came from", "command line"),
    "automation": pgettext_lazy("where a consent came from", "automation"),
    "started": pgettext_lazy("a campaign event", "started"),
    "paused": pgettext_lazy("a campaign event", "paused"),
    "auto_paused": pgettext_lazy("a campaign event", "paused automatically"),
    "resumed": pgettext_lazy("a campaign event", "resumed"),
    "cancelled": pgettext_lazy("a campaign event", "cancelled"),
    "finished": pgettext_lazy("a campaign event", "finished"),
    "retried": pgettext_lazy("a campaign event", "failed recipients re-queued"),
    "sender_error": pgettext_lazy("a campaign event", "sender error"),
    "in_doubt": pgettext_lazy("a campaign event", "recipients in doubt"),
    "resolved": pgettext_lazy("a campaign event", "in doubt resolved"),
    "recovered": pgettext_lazy("a campaign event", "recovered from a stopped worker"),
}


@register.filter
def code_word(code: str) -> str:
    """A stored state or source code as a word; an unknown code as it is."""
    return str(CODE_WORDS.get(code, code))


@register.filter
def stored_text(text: str) -> str:
    """A text stored in English (an event's message, a pause or rejection reason) in the
    admin's language when a registered template made it (postroom.storedtext)."""
    return storedtext.translated(str(text)) if text else text


@register.simple_tag
def state_badge(status: str, summary: dict | None = None) -> str:
    """The campaign's status badge; the reason (waiting for whom, why stalled) in its title."""
    css, words = shown_state(status, summary)
    title = ""
    if summary and css == "stalled":  # shown_state says stalled/waiting only with a summary
        title = summary["stalled"]
    elif summary and css == "waiting" and summary.get("waiting"):
        title = waiting.waiting_text(summary["waiting"])
    elif summary and css == "waiting":
        title = _window_wait(summary["window"])
    if title:
        return format_html('<span class="badge {}" title="{}">{}</span>', css, title, words)
    return format_html('<span class="badge {}">{}</span>', css, words)


@register.filter
def sending_rate(summary: dict | None) -> str:
    """The send rate only while messages really move: a paused, waiting, stalled or
    finished campaign has no rate, whatever the last measured one was."""
    if not summary or summary.get("status") != "running":
        return ""
    if summary.get("stalled") or summary.get("waiting") or not summary.get("rate"):
        return ""
    if (summary.get("window") or {}).get("waiting"):
        return ""
    return gettext("%(rate)s messages/s") % {"rate": f"{summary['rate']:g}"}


@register.filter
def decoded_header(value: str | None) -> str:
    """A header as its reader sees it: "=?utf-8?b?VGhpcyB3ZWVrLCBab8Or?=" is "This week, Zoë".

    A malformed encoded word stays as it is rather than hiding the subject.
    """
    if not value:
        return ""
    try:
        return str(make_header(decode_header(value)))
    except (HeaderParseError, LookupError, UnicodeDecodeError, ValueError):
        return value


@register.inclusion_tag("web/_first_run_prompt.html", takes_context=True)
def first_run_prompt(context) -> dict:
    """ "Change the one-time password" on every page until it is changed."""
    request = context.get("request")
    user = getattr(request, "user", None)
    on_change_page = request is not None and request.path == reverse("password_change")
    return {"show": user is not None and not on_change_page and first_run.still_one_time(user)}
