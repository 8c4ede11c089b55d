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
from django.db.models import Q
from django.utils import timezone
from jinja2 import TemplateError
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import escape

from postroom import outbound
from postroom.audience.models import MailingList, Segment
from postroom.campaigns import services as campaigns
from postroom.campaigns.models import Campaign
from postroom.delivery import control
from postroom.errors import InvalidInput
from postroom.feeds.models import Feed, FeedItem

log = logging.getLogger("postroom.feeds")

FETCH_TIMEOUT = 20.0
MAX_FEED_BYTES = 5 * 1024 * 1024
LEASE = timedelta(minutes=5)
DEFAULT_TEMPLATE = (
    '{% for item in items %}<h2><a href="{{ item.link }}">{{ item.title }}</a></h2>\n'
    "<div>{{ item.summary }}</div>\n{% endfor %}"
)

_jinja = SandboxedEnvironment(autoescape=True)


def _compile(source: str, what: str) -> Any:
    try:
        return _jinja.from_string(source)
    except TemplateError as error:
        raise InvalidInput(f"the {what} is not a valid template: {error}") from None


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
    lists = list(lists)
    if not url.startswith(("http://", "https://")):
        raise InvalidInput(f"the feed address must start with http:// or https://: {url!r}")
    if not lists and segment is None:
        raise InvalidInput("choose at least one list or a segment for the feed")
    if Feed.objects.filter(name=name).exists():
        raise InvalidInput(f"a feed named {name!r} already exists")
    feed = Feed(name=name, url=url, segment=segment, template=template, **fields)
    _compile(feed.template, "digest template")
    _compile(feed.subject, "subject")
    if feed.minimum_items < 1 or feed.interval_minutes < 1:
        raise InvalidInput("the minimum number of items and the interval must be at least 1")
    with transaction.atomic():
        feed.save()
        feed.lists.set(lists)
    return feed


def fetch(url: str) -> list[dict[str, str]]:
    """The feed's items, oldest first, as guid/title/link/summary."""
    request = urllib.request.Request(url, headers={"User-Agent": "Postroom feed reader"})
    with outbound.opener().open(request, timeout=FETCH_TIMEOUT) as response:
        data = response.read(MAX_FEED_BYTES + 1)
    if len(data) > MAX_FEED_BYTES:
        raise InvalidInput(f"the feed is larger than {MAX_FEED_BYTES} bytes")
    parsed = feedparser.parse(data)
    if parsed.bozo and not parsed.entries:
        raise InvalidInput(f"not a readable RSS or Atom feed: {parsed.get('bozo_exception')}")
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
        raise InvalidInput(f"feed {feed.name}: {error}") from None
    record(feed, items)
    Feed.objects.filter(pk=feed.pk).update(last_checked=timezone.now(), last_error="")
    try:
        return send_digest(feed)
    except InvalidInput as error:  # the items stay waiting for the next check
        Feed.objects.filter(pk=feed.pk).update(last_error=str(error)[:2000])
        raise InvalidInput(f"feed {feed.name}: {error}") from None


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
