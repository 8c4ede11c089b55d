"""/api/subscribers: the audience, one subscriber at a time or many at once.

A subscriber in a path is its address or its id. Every route calls the
audience's services, the same functions the UI and the CLI call.
"""

from typing import Any, Literal

from django.http import HttpRequest
from django.utils.translation import gettext
from ninja import Field, Query, Router, Schema, Status

from postroom.api import scope
from postroom.api.errors import errors
from postroom.api.fields import Body, Key, RowId
from postroom.api.pages import Page, PageParams, keyset
from postroom.audience import browse, bulk, services
from postroom.audience.cli import subscriber_json
from postroom.audience.models import MailingList, Segment, Subscriber
from postroom.errors import InvalidInput, NotAllowed, NotFound
from postroom.integers import as_id
from postroom.tracking import personal_data

router = Router(tags=["subscribers"])

SubscriberStatus = Literal["active", "blocklisted"]
ListStatus = Literal["unconfirmed", "confirmed", "unsubscribed"]


class SubscriberIn(Body):
    email: str
    name: str = ""
    lists: list[str] = Field(default_factory=list, description="list names")
    attributes: dict[str, Any] = Field(default_factory=dict)
    preconfirmed: bool = Field(False, description="consent already confirmed (no opt-in mail)")


class SubscriberChange(Body):
    """Only the keys given change; `attributes` and `tags` are replaced whole."""

    name: str | None = None
    attributes: dict[str, Any] | None = None
    tags: list[str] | None = None


class ListsIn(Body):
    lists: list[str] = Field(description="list names")
    preconfirmed: bool = False


class UnsubscribeIn(Body):
    lists: list[str] | None = Field(None, description="list names; null: from everything")


class StatusIn(Body):
    status: SubscriberStatus = Field(description="blocklisted: never mailed again")


class SubscriberFilters(Schema):
    q: str = Field(default="", max_length=200, description="part of the address or the name")
    list: str = Field(default="", description="a list's name or id")
    list_status: ListStatus | None = Field(
        default=None, description="with `list`: this status only"
    )
    status: SubscriberStatus | None = None
    tag: str = Field(default="", max_length=100)
    segment: str = Field(default="", description="a segment's name or id")


class BulkIn(Body):
    """Act on the subscribers named by `ids`, or on everyone matching `filter`."""

    action: Literal["add_to_list", "tag", "untag", "blocklist", "delete"]
    ids: list[RowId] | None = Field(None, description="subscriber ids")
    filter: SubscriberFilters | None = Field(
        None, description="every subscriber matching these filters"
    )
    list: str | None = Field(None, description="for add_to_list: the list's name")
    tag: str | None = Field(None, description="for tag and untag: the tag's name")


class Changed(Schema):
    changed: int = Field(description="how many subscribers or subscriptions changed")


def _named(model: type[MailingList] | type[Segment], key: str) -> int:
    """The id of a list or segment given by name or id."""
    found = (
        model.objects.filter(pk=as_id(key) or 0).first() or model.objects.filter(name=key).first()
    )
    if found is None:
        if model is MailingList:
            raise NotFound(gettext("no list named %(key)s") % {"key": repr(key)})
        raise NotFound(gettext("no segment named %(key)s") % {"key": repr(key)})
    return found.pk


def _filtered(request: HttpRequest, filters: SubscriberFilters):
    chosen = browse.Filters(
        q=filters.q.strip(),
        list_id=_named(MailingList, filters.list) if filters.list else None,
        list_status=filters.list_status or "",
        status=filters.status or "",
        tag=filters.tag.strip(),
        segment_id=_named(Segment, filters.segment) if filters.segment else None,
    )
    return scope.subscribers(request, browse.filtered(chosen))


def _find(request: HttpRequest, key: str) -> Subscriber:
    """By id or address, among the subscribers this caller may see."""
    qs = scope.subscribers(request, Subscriber.objects.all())
    pk = as_id(key)
    found = qs.filter(pk=pk).first() if pk else None
    if found is None and not key.strip().isdigit():
        found = qs.filter(pk=getattr(_by_address(key), "pk", 0)).first()
    if found is None:
        raise NotFound(gettext("no subscriber %(key)s") % {"key": repr(key.strip())})
    return found


def _by_address(key: str) -> Subscriber | None:
    try:
        return services.get_subscriber(key)
    except (NotFound, InvalidInput):
        return None


def _relations(qs):
    return qs.prefetch_related("subscriptions__mailing_list", "tags")


def _detail(subscriber: Subscriber) -> dict:
    return subscriber_json(_relations(Subscriber.objects.filter(pk=subscriber.pk)).get(), True)


@router.get("", response={200: Page, **errors(404)})
def page(
    request: HttpRequest, filters: Query[SubscriberFilters], paging: Query[PageParams]
) -> dict:
    """Subscribers in id order, filtered; keyset pages (see Pagination)."""
    return keyset(_relations(_filtered(request, filters)), paging, subscriber_json)


@router.post("", response={201: dict, **errors(400, 403, 404)})
def add(request: HttpRequest, data: SubscriberIn):
    """Add a subscriber (or update the one with this address) and subscribe them."""
    if scope.narrowed(request) and not data.lists:
        raise NotAllowed(gettext("a token for some lists must name the lists to subscribe to"))
    lists = scope.lists_to_mail(request, data.lists)
    # Someone else's subscriber is added to these lists, but keeps their own name and fields.
    theirs = scope.access(request).someone_elses(data.email)
    subscriber = services.add_subscriber(
        data.email,
        "" if theirs else data.name,
        lists,
        source="api",
        ip=request.META.get("REMOTE_ADDR"),
        attributes=None if theirs else data.attributes,
        preconfirmed=data.preconfirmed,
    )
    return Status(201, _detail(subscriber))


@router.post("/bulk", response={200: Changed, **errors(400, 403, 404)})
def bulk_action(request: HttpRequest, data: BulkIn) -> dict:
    """One action over a set of subscribers, as one set-based statement."""
    if (data.ids is None) == (data.filter is None):
        raise InvalidInput(gettext("give `ids` or `filter` (not both)"))
    if data.ids is not None:
        targets = scope.subscribers(request, services.subscribers_in(data.ids))
    else:
        targets = _filtered(request, data.filter or SubscriberFilters())
    mailing_list = None
    if data.action == "add_to_list":
        if not data.list:
            raise InvalidInput(gettext("add_to_list needs `list`"))
        mailing_list = scope.lists_to_mail(request, [data.list])[0]
    if data.action in ("tag", "untag") and not (data.tag or "").strip():
        raise InvalidInput(gettext("%(action)s needs `tag`") % {"action": data.action})
    changed = bulk.run(data.action, targets, mailing_list, (data.tag or "").strip(), "api")
    return {"changed": changed}


@router.get("/{subscriber}", response={200: dict, **errors(404)})
def get(request: HttpRequest, subscriber: Key) -> dict:
    """One subscriber with every subscription's consent record."""
    return _detail(_find(request, subscriber))


@router.patch("/{subscriber}", response={200: dict, **errors(400, 404)})
def change(request: HttpRequest, subscriber: Key, data: SubscriberChange) -> dict:
    found = _find(request, subscriber)
    services.update_subscriber(found, name=data.name, attributes=data.attributes, tags=data.tags)
    return _detail(found)


@router.delete("/{subscriber}", response={204: None, **errors(404)})
def erase(request: HttpRequest, subscriber: Key):
    """Erase the subscriber (GDPR): only a hash is kept, for those who withdrew consent."""
    services.erase(_find(request, subscriber))
    return Status(204, None)


@router.get("/{subscriber}/export", response={200: dict, **errors(404)})
def export(request: HttpRequest, subscriber: Key) -> dict:
    """Everything held about this person: profile, consent, messages, opens, clicks, bounces."""
    return personal_data.export(_find(request, subscriber))


@router.post("/{subscriber}/lists", response={200: dict, **errors(400, 403, 404)})
def join(request: HttpRequest, subscriber: Key, data: ListsIn) -> dict:
    """Subscribe to more lists (double opt-in lists wait for confirmation unless preconfirmed)."""
    found = _find(request, subscriber)
    lists = scope.lists_to_mail(request, data.lists)
    services.join_lists(found, lists, source="api", preconfirmed=data.preconfirmed)
    return _detail(found)


@router.post("/{subscriber}/unsubscribe", response={200: Changed, **errors(400, 404)})
def unsubscribe(request: HttpRequest, subscriber: Key, data: UnsubscribeIn) -> dict:
    """From the lists named, or from everything (which also suppresses the address)."""
    found = _find(request, subscriber)
    lists = None if data.lists is None else services.resolve_lists(data.lists)
    if lists is None and scope.narrowed(request):
        raise InvalidInput(
            gettext("a token for some lists can unsubscribe only from those: name them")
        )
    if lists is not None:
        lists = scope.lists_to_mail(request, lists)
    return {"changed": services.unsubscribe(found, lists, source="api")}


@router.put("/{subscriber}/status", response={200: dict, **errors(400, 404)})
def set_status(request: HttpRequest, subscriber: Key, data: StatusIn) -> dict:
    """Blocklist the subscriber, or make a blocklisted one active again."""
    found = _find(request, subscriber)
    services.set_status(found, data.status, source="api")
    return _detail(found)
