"""/api/subscribers"""

from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from postroom.api.errors import errors
from postroom.audience import services
from postroom.audience.cli import subscriber_json
from postroom.audience.models import Subscriber

router = Router(tags=["subscribers"])
MAX_PAGE = 1000


class SubscriberIn(Schema):
    email: str
    name: str = ""
    lists: list[str] = Field(default_factory=list)
    attributes: dict[str, Any] = Field(default_factory=dict)
    preconfirmed: bool = False


class UnsubscribeIn(Schema):
    lists: list[str] | None = None


def _relations(qs):
    return qs.prefetch_related("subscriptions__mailing_list", "tags")


@router.get("", response={200: dict, **errors(404)})
def page(request: HttpRequest, list: str = "", after: int = 0, limit: int = 100) -> dict:
    """Subscribers in id order; pass the returned `next` as `after` for the next page."""
    qs = Subscriber.objects.filter(pk__gt=after).order_by("pk")
    if list:
        qs = qs.filter(subscriptions__mailing_list=services.get_list(list))
    rows = [subscriber_json(s) for s in _relations(qs)[: max(1, min(limit, MAX_PAGE))]]
    return {"items": rows, "next": rows[-1]["id"] if rows else None}


@router.post("", response={201: dict, **errors(400, 404)})
def add(request: HttpRequest, data: SubscriberIn):
    subscriber = services.add_subscriber(
        data.email,
        data.name,
        data.lists,
        source="api",
        ip=request.META.get("REMOTE_ADDR"),
        attributes=data.attributes,
        preconfirmed=data.preconfirmed,
    )
    return Status(
        201, subscriber_json(_relations(Subscriber.objects.filter(pk=subscriber.pk)).get(), True)
    )


@router.get("/{email}", response={200: dict, **errors(404)})
def get(request: HttpRequest, email: str) -> dict:
    subscriber = services.get_subscriber(email)
    return subscriber_json(_relations(Subscriber.objects.filter(pk=subscriber.pk)).get(), True)


@router.post("/{email}/unsubscribe", response={200: dict, **errors(404)})
def unsubscribe(request: HttpRequest, email: str, data: UnsubscribeIn) -> dict:
    subscriber = services.get_subscriber(email)
    lists = None if data.lists is None else services.resolve_lists(data.lists)
    return {"changed": services.unsubscribe(subscriber, lists, source="api")}


@router.delete("/{email}", response={204: None, **errors(404)})
def erase(request: HttpRequest, email: str):
    services.erase(services.get_subscriber(email))
    return Status(204, None)
