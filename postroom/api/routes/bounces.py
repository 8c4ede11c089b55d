"""/api/bounces: every bounce and complaint, filtered like the Bounces page; lifting one."""

from typing import Literal

from django.http import HttpRequest
from django.utils.translation import gettext
from ninja import Field, Query, Router, Schema

from postroom.api import scope
from postroom.api.errors import errors
from postroom.api.fields import Body, Day
from postroom.api.pages import Id, Page, PageParams, keyset
from postroom.audience.models import Subscriber
from postroom.errors import NotAllowed, NotFound
from postroom.integers import ID_MAX
from postroom.tracking import lifts
from postroom.tracking.bounce_query import filtered
from postroom.tracking.models import Bounce

router = Router(tags=["bounces"])


class BounceFilters(Schema):
    kind: Literal["hard", "soft", "complaint"] | None = None
    source: str = Field("", max_length=64, description="where it came from (a mailbox, …)")
    q: str = Field("", max_length=320, description="part of the address")
    since: Day | None = None
    until: Day | None = None
    campaign: int | None = Field(None, ge=1, le=ID_MAX, description="a campaign's id")
    sender: int | None = Field(None, ge=1, le=ID_MAX, description="a sender's id")


class LiftIn(Body):
    reason: str = Field(description="why the address may be mailed again; kept on record")


def _json(b: Bounce, raw: bool = False) -> dict:
    data = {
        "id": b.pk,
        "email": b.email,
        "kind": b.kind,
        "status": b.status,
        "reason": b.reason,
        "source": b.source,
        "at": b.at.isoformat(),
        "campaign": b.campaign_id,
        "subscriber": b.subscriber_id,
        "lifted_at": b.lifted_at.isoformat() if b.lifted_at else None,
        "lifted_by": b.lifted_by.get_username() if b.lifted_by else None,
    }
    if raw:
        data["raw"] = b.raw
    return data


def _visible(request: HttpRequest, rows):
    if not scope.narrowed(request):
        return rows
    return rows.filter(subscriber__in=scope.subscribers(request, Subscriber.objects.all()))


def _bounce(request: HttpRequest, bounce_id: int) -> Bounce:
    found = _visible(request, Bounce.objects.all()).filter(pk=bounce_id).first()
    if found is None:
        raise NotFound(gettext("no bounce with id %(bounce_id)s") % {"bounce_id": bounce_id})
    return found


@router.get("", response={200: Page, **errors(400)})
def page(request: HttpRequest, filters: Query[BounceFilters], paging: Query[PageParams]) -> dict:
    """Bounces and complaints in id order (keyset pages), filtered."""
    params = {k: "" if v is None else str(v) for k, v in filters.dict().items()}
    rows, _ = filtered(params)
    return keyset(_visible(request, rows), paging, _json)


@router.get("/{bounce_id}", response={200: dict, **errors(404)})
def get(request: HttpRequest, bounce_id: Id) -> dict:
    """One bounce with the report as it came (`raw`)."""
    return _json(_bounce(request, bounce_id), raw=True)


@router.post("/{bounce_id}/lift", response={200: dict, **errors(400, 404)})
def lift(request: HttpRequest, bounce_id: Id, data: LiftIn) -> dict:
    """The address may be mailed again (after a bounce or complaint only); the reason is kept."""
    bounce = _bounce(request, bounce_id)
    user = request.user
    if not user.is_authenticated:  # the API's auth lets no anonymous caller in
        raise NotAllowed(gettext("lifting a bounce needs a signed-in user"))
    lifts.lift(bounce, user, data.reason)
    bounce.refresh_from_db()
    return _json(bounce)
