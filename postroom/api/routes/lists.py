"""/api/lists"""

from django.http import HttpRequest
from ninja import Router, Schema, Status

from postroom.api.errors import errors
from postroom.audience import services
from postroom.audience.cli import list_json

router = Router(tags=["lists"])


class ListIn(Schema):
    name: str
    optin: str = "single"
    description: str = ""
    public: bool = False


@router.get("")
def all_lists(request: HttpRequest) -> list[dict]:
    from postroom.audience.models import MailingList

    counts = services.list_counts()
    return [list_json(ml, counts.get(ml.pk, {})) for ml in MailingList.objects.all()]


@router.post("", response={201: dict, **errors(400)})
def create_list(request: HttpRequest, data: ListIn):
    ml = services.create_list(data.name, data.optin, data.description, data.public)
    return Status(201, list_json(ml))
