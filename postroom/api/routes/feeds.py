"""/api/feeds: RSS/Atom feeds sent as digest campaigns (docs/feeds.md).

A feed mails its lists or segment on its own schedule, so a token narrowed to some
lists may not use these routes (as the UI's feed pages refuse a restricted person).
"""

from typing import Annotated, Any

from django.http import HttpRequest
from django.utils.translation import gettext
from ninja import Field, Router, Status

from postroom.api import scope
from postroom.api.errors import errors
from postroom.api.fields import WHOLE, Body
from postroom.api.pages import Id
from postroom.campaigns.services import lists_by_name, segment_by_name
from postroom.delivery.senders import get_sender
from postroom.errors import NotAllowed
from postroom.feeds import services

router = Router(tags=["feeds"])

Minutes = Annotated[int, Field(ge=1, le=1_000_000), WHOLE]


class FeedFields(Body):
    """Only the keys given change; lists, segment and sender by name."""

    name: str | None = None
    url: str | None = Field(None, description="http:// or https://, RSS or Atom")
    lists: list[str] | None = None
    segment: str | None = Field(None, description="a segment's name; empty string for none")
    sender: str | None = Field(None, description="a sender's name; empty string for the outbox")
    from_email: str | None = None
    from_name: str | None = None
    subject: str | None = Field(None, description="a template with {{ feed }} and {{ items }}")
    template: str | None = Field(None, description="the digest, Jinja2: {{ feed }}, {{ items }}")
    interval_minutes: Minutes | None = None
    minimum_items: Minutes | None = None
    active: bool | None = None


class FeedIn(FeedFields):
    name: str
    url: str


def _whole_audience(request: HttpRequest) -> None:
    if scope.narrowed(request):
        raise NotAllowed(
            gettext(
                "feeds mail lists on their own schedule: not for a token or user limited to some "
                "lists"
            )
        )


def _fields(data: FeedFields) -> dict[str, Any]:
    given = data.model_fields_set
    plain = given - {"lists", "segment", "sender"}
    fields: dict[str, Any] = {k: getattr(data, k) for k in plain if getattr(data, k) is not None}
    if "lists" in given and data.lists is not None:
        fields["lists"] = lists_by_name(data.lists)
    if "segment" in given:
        fields["segment"] = segment_by_name(data.segment)
    if "sender" in given:
        fields["sender"] = get_sender(data.sender) if data.sender else None
    return fields


@router.get("", response={200: list[dict], **errors(403)})
def all_feeds(request: HttpRequest) -> list[dict]:
    _whole_audience(request)
    return [services.as_json(f) for f in services.all_feeds()]


@router.post("", response={201: dict, **errors(400, 403, 404)})
def create(request: HttpRequest, data: FeedIn):
    """A new feed, checked by a worker within seconds, then every `interval_minutes`."""
    _whole_audience(request)
    return Status(201, services.as_json(services.create_feed(**_fields(data))))


@router.get("/{feed_id}", response={200: dict, **errors(403, 404)})
def get(request: HttpRequest, feed_id: Id) -> dict:
    """With its last check, last error, and the items seen and waiting."""
    _whole_audience(request)
    return services.as_json(services.get_feed(feed_id))


@router.patch("/{feed_id}", response={200: dict, **errors(400, 403, 404)})
def change(request: HttpRequest, feed_id: Id, data: FeedFields) -> dict:
    _whole_audience(request)
    feed = services.update_feed(services.get_feed(feed_id), **_fields(data))
    return services.as_json(feed)


@router.delete("/{feed_id}", response={204: None, **errors(403, 404)})
def delete(request: HttpRequest, feed_id: Id):
    """The feed and its record of items; digests already sent stay as campaigns."""
    _whole_audience(request)
    services.delete_feed(services.get_feed(feed_id))
    return Status(204, None)


@router.post("/{feed_id}/check", response={200: dict, **errors(403, 404)})
def check(request: HttpRequest, feed_id: Id) -> dict:
    """Due now: a running worker checks it within seconds (the answer is the feed as it is)."""
    _whole_audience(request)
    feed = services.get_feed(feed_id)
    services.check_soon(feed)
    return services.as_json(feed)
