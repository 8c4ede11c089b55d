"""/api/lists"""

from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from postroom.api import scope
from postroom.api.errors import errors
from postroom.api.pages import ListId
from postroom.audience import services
from postroom.audience.cli import list_json
from postroom.audience.models import MailingList, Subscription
from postroom.errors import NotAllowed, NotFound

router = Router(tags=["lists"])


class ListIn(Schema):
    name: str
    optin: Literal["single", "double"] = "single"
    description: str = ""
    public: bool = False
    allowed_origins: list[str] = Field(
        default_factory=list, description="websites whose pages may post sign-ups (CORS)"
    )
    captcha: bool = False
    form_fields: list[dict[str, Any]] = Field(
        default_factory=list, description="custom sign-up fields: name, label, type, …"
    )


class ListChange(Schema):
    """Only the keys given change."""

    name: str | None = None
    optin: Literal["single", "double"] | None = None
    description: str | None = None
    public: bool | None = None
    allowed_origins: list[str] | None = None
    captcha: bool | None = None
    form_fields: list[dict[str, Any]] | None = None


def _list(request: HttpRequest, list_id: int) -> MailingList:
    found = scope.lists(request, MailingList.objects.all()).filter(pk=list_id).first()
    if found is None:
        raise NotFound(f"no list with id {list_id}")
    return found


@router.get("", response={200: list[dict]})
def all_lists(request: HttpRequest) -> list[dict]:
    """Every list (a token narrowed to some lists sees those), with counts per status."""
    counts = services.list_counts()
    empty = dict.fromkeys(Subscription.Status.values, 0)
    qs = scope.lists(request, MailingList.objects.all())
    return [list_json(ml, counts.get(ml.pk, empty)) for ml in qs]


@router.post("", response={201: dict, **errors(400, 403)})
def create_list(request: HttpRequest, data: ListIn):
    """A token narrowed to some lists cannot make more."""
    if scope.narrowed(request):
        raise NotAllowed("a token for some lists cannot create lists")
    ml = services.create_list(
        data.name,
        data.optin,
        data.description,
        data.public,
        allowed_origins=data.allowed_origins,
        captcha=data.captcha,
        form_fields=data.form_fields,
    )
    return Status(201, list_json(ml))


@router.patch("/{list_id}", response={200: dict, **errors(400, 404)})
def change_list(request: HttpRequest, list_id: ListId, data: ListChange):
    """Change a list's settings (its sign-up settings too)."""
    mailing_list = _list(request, list_id)
    changes = {k: v for k, v in data.dict().items() if v is not None}
    return list_json(services.update_list(mailing_list, **changes))


@router.get("/{list_id}", response={200: dict, **errors(404)})
def get_list(request: HttpRequest, list_id: ListId):
    mailing_list = _list(request, list_id)
    empty = dict.fromkeys(Subscription.Status.values, 0)
    return list_json(mailing_list, services.list_counts().get(mailing_list.pk, empty))


@router.delete("/{list_id}", response={204: None, **errors(404)})
def delete_list(request: HttpRequest, list_id: ListId):
    """Delete the list and its subscriptions; the subscribers stay."""
    services.delete_list(_list(request, list_id))
    return Status(204, None)
