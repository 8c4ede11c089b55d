"""/api/lists"""

from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from postroom.api.errors import errors
from postroom.audience import services
from postroom.audience.cli import list_json
from postroom.audience.models import MailingList
from postroom.errors import NotFound

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


@router.get("")
def all_lists(request: HttpRequest) -> list[dict]:
    counts = services.list_counts()
    return [list_json(ml, counts.get(ml.pk, {})) for ml in MailingList.objects.all()]


@router.post("", response={201: dict, **errors(400)})
def create_list(request: HttpRequest, data: ListIn):
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
def change_list(request: HttpRequest, list_id: int, data: ListChange):
    """Change a list's settings (its sign-up settings too)."""
    mailing_list = MailingList.objects.filter(pk=list_id).first()
    if mailing_list is None:
        raise NotFound(f"no list with id {list_id}")
    changes = {k: v for k, v in data.dict().items() if v is not None}
    return list_json(services.update_list(mailing_list, **changes))
