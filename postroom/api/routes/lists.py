"""/api/lists"""

from typing import Literal

from django.http import HttpRequest
from django.utils.translation import gettext
from ninja import Field, Router, Status
from pydantic import ConfigDict

from postroom.api import scope
from postroom.api.errors import errors
from postroom.api.fields import Body
from postroom.api.pages import ListId
from postroom.audience import services, signup_settings
from postroom.audience.cli import list_json
from postroom.audience.models import MailingList, Subscription
from postroom.errors import NotAllowed, NotFound

router = Router(tags=["lists"])


class FormFieldIn(Body):
    """A custom sign-up field (the keys the domain knows, no other); a name that is one of
    the subscriber's own columns (`email`, `name`, …) or taken twice is refused with 400."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        pattern=signup_settings.NAME_PATTERN,
        description="the attribute it fills: lower-case letters, digits and _, at most 40",
    )
    label: str = Field("", description="what the form shows; the name when empty")
    type: signup_settings.FieldType = "text"
    required: bool = False
    choices: list[str] = Field(default_factory=list, description="a choice field's options")


class ListIn(Body):
    name: str
    optin: Literal["single", "double"] = "single"
    description: str = ""
    public: bool = False
    allowed_origins: list[str] = Field(
        default_factory=list, description="websites whose pages may post sign-ups (CORS)"
    )
    captcha: bool = False
    form_fields: list[FormFieldIn] = Field(
        default_factory=list,
        max_length=signup_settings.MAX_FIELDS,
        description="custom sign-up fields, in form order",
    )


class ListChange(Body):
    """Only the keys given change."""

    name: str | None = None
    optin: Literal["single", "double"] | None = None
    description: str | None = None
    public: bool | None = None
    allowed_origins: list[str] | None = None
    captcha: bool | None = None
    form_fields: list[FormFieldIn] | None = Field(None, max_length=signup_settings.MAX_FIELDS)


def _list(request: HttpRequest, list_id: int) -> MailingList:
    found = scope.lists(request, MailingList.objects.all()).filter(pk=list_id).first()
    if found is None:
        raise NotFound(gettext("no list with id %(list_id)s") % {"list_id": list_id})
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
        raise NotAllowed(gettext("a token for some lists cannot create lists"))
    ml = services.create_list(
        data.name,
        data.optin,
        data.description,
        data.public,
        allowed_origins=data.allowed_origins,
        captcha=data.captcha,
        form_fields=[f.dict() for f in data.form_fields],
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
