"""Checking feeds and sending their new items as one digest campaign.

Every item is recorded once (unique per feed and guid) before anything is
sent, and the items of a digest are tied to its campaign in the transaction
that creates and starts it: a worker killed at any point either left the items
waiting for the next check or sent them in exactly one campaign.
"""

import logging
import urllib.request
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import feedparser
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext
from jinja2 import TemplateError
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import escape

from postroom import outbound
from postroom.audience.models import MailingList, Segment
from postroom.campaigns import services as campaigns
from postroom.campaigns.models import Campaign
from postroom.delivery import control
from postroom.errors import InvalidInput, NotFound
from postroom.feeds.models import Feed, FeedItem
from postroom.integers import as_id
from postroom.storedtext import gettext_noop

log = logging.getLogger("postroom.feeds")

FETCH_TIMEOUT = 20.0
MAX_FEED_BYTES = 5 * 1024 * 1024
LEASE = timedelta(minutes=5)
DEFAULT_TEMPLATE = (
    '{% for item in items %}<h2><a href="{{ item.link }}">{{ item.title }}</a></h2>\n'
    "<div>{{ item.summary }}</div>\n{% endfor %}"
)

_jinja = SandboxedEnvironment(autoescape=True)


def _compile(source: str, invalid: str) -> Any:
    """`invalid`: the whole refusal in the reader's language, with `%(error)s` for jinja's."""
    try:
        return _jinja.from_string(source)
    except TemplateError as error:
        raise InvalidInput(invalid % {"error": error}) from None


# Fields a caller may set on a feed (lists and segment are passed apart).
EDITABLE_FIELDS = {
    "name", "url", "template", "subject", "sender", "from_email", "from_name",
    "interval_minutes", "minimum_items", "active",
}  # fmt: skip


# Each field's refusal whole, so a translation need not put an English field name in it.
TOO_LONG = {
    "name": gettext_noop("the name is longer than %(limit)s characters"),
    "url": gettext_noop("the url is longer than %(limit)s characters"),
    "subject": gettext_noop("the subject is longer than %(limit)s characters"),
    "from_email": gettext_noop("the from email is longer than %(limit)s characters"),
    "from_name": gettext_noop("the from name is longer than %(limit)s characters"),
}


def _checked(feed: Feed, lists: list[MailingList], segment: Segment | None) -> None:
    """Everything a feed needs before it is saved; InvalidInput names the first problem."""
    if not (feed.name or "").strip():
        raise InvalidInput(gettext("a feed needs a name"))
    if not (feed.url or "").startswith(("http://", "https://")):
        raise InvalidInput(
            gettext("the feed address must start with http:// or https://: %(url)s")
            % {"url": repr(feed.url)}
        )
    if not lists and segment is None:
        raise InvalidInput(gettext("choose at least one list or a segment for the feed"))
    if Feed.objects.filter(name=feed.name).exclude(pk=feed.pk).exists():
        raise InvalidInput(
            gettext("a feed named %(name)s already exists") % {"name": repr(feed.name)}
        )
    _compile(feed.template, gettext("the digest template is not a valid template: %(error)s"))
    _compile(feed.subject, gettext("the subject is not a valid template: %(error)s"))
    for what in ("minimum_items", "interval_minutes"):
        value = getattr(feed, what)
        if not isinstance(value, int) or not 1 <= value <= 1_000_000:
            raise InvalidInput(
                gettext("the minimum number of items and the interval must be at least 1")
            )
    for field in TOO_LONG:
        limit = getattr(Feed._meta.get_field(field), "max_length", 0) or 0
        if len(getattr(feed, field) or "") > limit:
            raise InvalidInput(gettext(TOO_LONG[field]) % {"limit": limit})


def _refuse_unknown(fields: dict[str, Any]) -> None:
    unknown = set(fields) - EDITABLE_FIELDS
    if unknown:
        raise InvalidInput(
            gettext("unknown feed field(s): %(fields)s") % {"fields": ", ".join(sorted(unknown))}
        )


def create_feed(
    *,
    name: str,
    url: str,
    lists: Iterable[MailingList] = (),
    segment: Segment | None = None,
    template: str = DEFAULT_TEMPLATE,
    **fields: Any,
) -> Feed:
    """A new feed; the address and templates are checked before anything is saved."""
    _refuse_unknown(fields)
    lists = list(lists)
    feed = Feed(name=name, url=url, segment=segment, template=template, **fields)
    _checked(feed, lists, segment)
    with transaction.atomic():
        feed.save()
        feed.lists.set(lists)
    return feed


_UNSET: Any = object()


def update_feed(
    feed: Feed,
    *,
    lists: Iterable[MailingList] | None = None,
    segment: Segment | None = _UNSET,
    **fields: Any,
) -> Feed:
    """Change a feed; items already seen stay seen (a new address starts no resend)."""
    _refuse_unknown(fields)
    changed = Feed.objects.get(pk=feed.pk)
    for name, value in fields.items():
        setattr(changed, name, value)
    if segment is not _UNSET:
        changed.segment = segment
    chosen = list(changed.lists.all()) if lists is None else list(lists)
    _checked(changed, chosen, changed.segment)
    with transaction.atomic():
        changed.save()
        changed.lists.set(chosen)
    return changed


def delete_feed(feed: Feed) -> None:
    """The feed and its record of items; digests already sent stay as campaigns."""
    feed.delete()


def all_feeds() -> list[Feed]:
    return list(
        Feed.objects.select_related("segment", "sender").prefetch_related("lists").order_by("name")
    )


def get_feed(key: int | str) -> Feed:
    """A feed by id or by name."""
    pk = as_id(key) if str(key).isdigit() else None
    found = Feed.objects.filter(Q(pk=pk) if pk else Q(name=str(key))).first()
    if found is None:
        raise NotFound(gettext("feed %(key)s does not exist") % {"key": repr(key)})
    return found


def check_soon(feed: Feed) -> None:
    """Due now: a worker's side thread checks it within a second or two."""
    Feed.objects.filter(pk=feed.pk).update(last_checked=None)


def items_seen(feeds: Iterable[Feed]) -> dict[int, dict[str, int]]:
    """Per feed: items seen, and those waiting for the next digest."""
    rows = (
        FeedItem.objects.filter(feed__in=list(feeds))
        .order_by()
        .values("feed_id")
        .annotate(seen=Count("id"), waiting=Count("id", filter=Q(campaign=None)))
    )
    return {r["feed_id"]: {"seen": r["seen"], "waiting": r["waiting"]} for r in rows}


def as_json(feed: Feed) -> dict[str, Any]:
    """The feed as the API and `postroom feed list --json` show it."""
    counts = items_seen([feed]).get(feed.pk, {"seen": 0, "waiting": 0})
    return {
        "id": feed.pk,
        "name": feed.name,
        "url": feed.url,
        "lists": [ml.name for ml in feed.lists.all()],
        "segment": feed.segment.name if feed.segment else None,
        "sender": feed.sender.name if feed.sender else None,
        "from_email": feed.from_email,
        "from_name": feed.from_name,
        "subject": feed.subject,
        "template": feed.template,
        "interval_minutes": feed.interval_minutes,
        "minimum_items": feed.minimum_items,
        "active": feed.active,
        "last_checked": feed.last_checked.isoformat() if feed.last_checked else None,
        "last_error": feed.last_error or None,
        "items_seen": counts["seen"],
        "items_waiting": counts["waiting"],
    }


def fetch(url: str) -> list[dict[str, str]]:
    """The feed's items, oldest first, as guid/title/link/summary."""
    request = urllib.request.Request(url, headers={"User-Agent": "Postroom feed reader"})
    with outbound.opener().open(request, timeout=FETCH_TIMEOUT) as response:
        data = response.read(MAX_FEED_BYTES + 1)
    if len(data) > MAX_FEED_BYTES:
        raise InvalidInput(
            gettext("the feed is larger than %(limit)s bytes") % {"limit": MAX_FEED_BYTES}
        )
    parsed = feedparser.parse(data)
    if parsed.bozo and not parsed.entries:
        raise InvalidInput(
            gettext("not a readable RSS or Atom feed: %(error)s")
            % {"error": parsed.get("bozo_exception")}
        )
    items = []
    for entry in parsed.entries:
        guid = entry.get("id") or entry.get("link") or entry.get("title")
        if not guid:
            continue
        items.append(
            {
                "guid": str(guid)[:2000],
                "title": str(entry.get("title", "")),
                "link": str(entry.get("link", "")),
                "summary": str(entry.get("summary", "")),
            }
        )
    items.reverse()  # feeds list the newest first
    return items


def record(feed: Feed, items: list[dict[str, str]]) -> int:
    """Store the items not seen before; how many were new."""
    known = set(FeedItem.objects.filter(feed=feed).values_list("guid", flat=True))
    new = [FeedItem(feed=feed, **item) for item in items if item["guid"] not in known]
    FeedItem.objects.bulk_create(new, ignore_conflicts=True)
    return len(new)


def _literal(text: str) -> str:
    """Feed text shown as itself: escaped, and never read as a campaign template."""
    return str(escape(text)).replace("{", "&#123;").replace("}", "&#125;")


def send_digest(feed: Feed) -> Campaign | None:
    """A started campaign of the items not yet sent, once there are enough of them."""
    with transaction.atomic():
        Feed.objects.select_for_update().get(pk=feed.pk)
        waiting = list(FeedItem.objects.filter(feed=feed, campaign=None).order_by("pk"))
        if len(waiting) < feed.minimum_items:
            return None
        context = {
            "feed": _literal(feed.name),
            "items": [
                {
                    "title": _literal(i.title),
                    "link": _literal(i.link),
                    "summary": _literal(i.summary),
                }
                for i in waiting
            ],
        }
        # Item text is already escaped: the sandbox must not escape it twice.
        env = SandboxedEnvironment(autoescape=False)
        body = env.from_string(feed.template).render(context)
        subject = (
            env.from_string(feed.subject)
            .render(context)
            .replace("&#123;", "(")
            .replace("&#125;", ")")
        )
        campaign = campaigns.create_campaign(
            lists=feed.lists.all(),
            segment=feed.segment,
            sender=feed.sender,
            from_email=feed.from_email,
            from_name=feed.from_name,
            name=f"{feed.name} digest {timezone.now():%Y-%m-%d %H:%M}",
            subject=subject[:998],
            body_format=Campaign.Format.HTML,
            body=body,
        )
        FeedItem.objects.filter(pk__in=[i.pk for i in waiting]).update(campaign=campaign)
        control.start(campaign)
    return campaign


def check(feed: Feed) -> Campaign | None:
    """Fetch, record the new items, and send a digest when there are enough."""
    try:
        items = fetch(feed.url)
    except (OSError, InvalidInput, ValueError) as error:
        Feed.objects.filter(pk=feed.pk).update(
            last_checked=timezone.now(), last_error=str(error)[:2000]
        )
        raise InvalidInput(
            gettext("feed %(name)s: %(error)s") % {"name": feed.name, "error": error}
        ) from None
    record(feed, items)
    Feed.objects.filter(pk=feed.pk).update(last_checked=timezone.now(), last_error="")
    try:
        return send_digest(feed)
    except InvalidInput as error:  # the items stay waiting for the next check
        Feed.objects.filter(pk=feed.pk).update(last_error=str(error)[:2000])
        raise InvalidInput(
            gettext("feed %(name)s: %(error)s") % {"name": feed.name, "error": error}
        ) from None


def due_feeds(now: Any = None) -> list[Feed]:
    now = now or timezone.now()
    feeds = Feed.objects.filter(active=True).filter(
        Q(claimed_until=None) | Q(claimed_until__lt=now)
    )
    return [
        f
        for f in feeds
        if f.last_checked is None or f.last_checked + timedelta(minutes=f.interval_minutes) <= now
    ]


def background_step() -> bool:
    """Check one due feed (claimed by a conditional update, so one worker checks it)."""
    now = timezone.now()
    for feed in due_feeds(now):
        claimed = (
            Feed.objects.filter(pk=feed.pk)
            .filter(Q(claimed_until=None) | Q(claimed_until__lt=now))
            .update(claimed_until=now + LEASE)
        )
        if not claimed:
            continue
        try:
            check(feed)
        except InvalidInput as error:
            log.warning("%s", error)
        finally:
            Feed.objects.filter(pk=feed.pk).update(claimed_until=None)
        return True
    return False
