"""/api/campaigns"""

from collections.abc import Callable
from datetime import datetime
from typing import Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from postroom.api.errors import errors
from postroom.campaigns import services
from postroom.campaigns.cli import as_json
from postroom.campaigns.models import Campaign
from postroom.delivery import control, doubt, progress
from postroom.delivery.models import Delivery
from postroom.errors import InvalidInput

router = Router(tags=["campaigns"])
Action = Literal["start", "pause", "resume", "cancel", "retry-failed"]
MAX_PAGE = 1000


class CampaignIn(Schema):
    name: str
    subject: str
    body: str
    lists: list[str] = Field(default_factory=list)
    segment: str | None = None
    format: str = "markdown"
    from_email: str = ""
    from_name: str = ""
    sender: str | None = None
    priority: int = 1
    # Pause itself when more than this share of the last `error_window` recipients fail for
    # good (counted across every worker); a sender that cannot be reached never pauses it.
    error_threshold_percent: int = 20
    error_window: int = 200


def _detail(campaign: Campaign) -> dict:
    return {**as_json(campaign), "progress": progress.summary(campaign)}


@router.get("")
def all_campaigns(request: HttpRequest) -> list[dict]:
    qs = Campaign.objects.select_related("segment", "sender", "layout").prefetch_related("lists")
    return [as_json(c) for c in qs]


@router.post("", response={201: dict, **errors(400, 404)})
def create(request: HttpRequest, data: CampaignIn):
    from postroom.delivery.models import Sender

    if not data.lists and not data.segment:
        raise InvalidInput("give at least one list or a segment")
    sender = None
    if data.sender:
        sender = Sender.objects.filter(name=data.sender).first()
        if sender is None:
            raise InvalidInput(f"no sender named {data.sender!r}")
    campaign = services.create_campaign(
        name=data.name,
        subject=data.subject,
        body=data.body,
        body_format=data.format,
        lists=services.lists_by_name(data.lists),
        segment=services.segment_by_name(data.segment),
        from_email=data.from_email,
        from_name=data.from_name,
        sender=sender,
        priority=data.priority,
        error_threshold_percent=data.error_threshold_percent,
        error_window=data.error_window,
        created_by=request.user,
    )
    return Status(201, _detail(services.get_campaign(campaign.pk)))


@router.get("/{campaign_id}", response={200: dict, **errors(404)})
def get(request: HttpRequest, campaign_id: int) -> dict:
    return _detail(services.get_campaign(campaign_id))


@router.get("/{campaign_id}/deliveries", response={200: dict, **errors(404)})
def deliveries(
    request: HttpRequest, campaign_id: int, state: str = "", after: int = 0, limit: int = 100
) -> dict:
    """The ledger, one object per recipient, in id order (keyset pages via `after`)."""
    campaign = services.get_campaign(campaign_id)
    qs = Delivery.objects.filter(campaign=campaign, pk__gt=after).order_by("pk")
    if state:
        if state not in Delivery.State.values:
            raise InvalidInput(
                f"unknown state {state!r}: use one of {', '.join(Delivery.State.values)}"
            )
        qs = qs.filter(state=state)
    fields = ("id", "email", "state", "attempts", "sent_at", "reply", "error", "message_id")
    rows = list(qs.values(*fields)[: max(1, min(limit, MAX_PAGE))])
    return {"items": rows, "next": rows[-1]["id"] if rows else None}


class InDoubtRow(Schema):
    """What the ledger knows about a recipient in doubt."""

    id: int
    email: str
    subscriber_id: int | None = Field(description="None once the subscriber was erased")
    attempts: int
    handed_at: datetime | None = Field(description="when the message was given to the server")
    in_doubt_since: datetime | None
    worker: str | None = Field(description="the worker that had it on the wire, if known")
    sender: str = Field(description="the sender it went through ('outbox' for the local one)")
    error: str = Field(description="why it is in doubt, as the engine recorded it")
    reply: str = Field(description="the server's last reply to this recipient, if any")


class InDoubtPage(Schema):
    count: int = Field(description="recipients in doubt in the whole campaign")
    items: list[InDoubtRow]
    next: int | None = Field(description="pass as `after` for the next page")


class ResolveIn(Schema):
    outcome: Literal["delivered", "resend"]
    emails: list[str] | None = Field(None, description="recipients to settle, by address")
    ids: list[int] | None = Field(None, description="recipients to settle, by delivery id")
    all: bool = Field(False, description="settle every recipient in doubt")


class ResolveOut(Schema):
    id: int
    status: str
    outcome: str
    resolved: int


# Declared before the catch-all `/{campaign_id}/{action}`, so these paths reach them.
@router.get("/{campaign_id}/in-doubt", response={200: InDoubtPage, **errors(404)})
def in_doubt(request: HttpRequest, campaign_id: int, after: int = 0, limit: int = 100):
    """Recipients whose message the server may or may not have accepted, with what is known."""
    campaign = services.get_campaign(campaign_id)
    rows = doubt.rows_in_doubt(campaign)
    page = list(
        rows.filter(pk__gt=after)
        .select_related("sender")
        .order_by("pk")[: max(1, min(limit, MAX_PAGE))]
    )
    return {
        "count": rows.count(),
        "items": [doubt.known(row, campaign) for row in page],
        "next": page[-1].pk if page else None,
    }


@router.post("/{campaign_id}/resolve", response={200: ResolveOut, **errors(400, 404)})
def resolve(request: HttpRequest, campaign_id: int, data: ResolveIn):
    """Settle recipients in doubt: `delivered` (never resend) or `resend` (queue them again).

    Give `emails` and/or `ids`, or `all: true`. A recipient that is not in doubt
    refuses the whole call and changes nothing.
    """
    campaign = services.get_campaign(campaign_id)
    picked = data.emails is not None or data.ids is not None
    if picked == data.all:
        raise InvalidInput("give `emails` or `ids`, or `all: true` (not both)")
    emails, ids = (data.emails or [], data.ids or []) if picked else (None, None)
    by = f"{request.user.get_username()} (API)"
    count = doubt.resolve(campaign, data.outcome == "delivered", emails=emails, ids=ids, by=by)
    campaign.refresh_from_db()
    return {
        "id": campaign.pk,
        "status": campaign.status,
        "outcome": data.outcome,
        "resolved": count,
    }


@router.post("/{campaign_id}/{action}", response={200: dict, **errors(400, 404)})
def act(request: HttpRequest, campaign_id: int, action: Action) -> dict:
    """start, pause, resume, cancel or retry-failed, as `postroom campaign ACTION ID`."""
    actions: dict[str, Callable[[Campaign], object]] = {
        "start": control.start,
        "pause": control.pause,
        "resume": control.resume,
        "cancel": control.cancel,
        "retry-failed": control.retry_failed,
    }
    campaign = services.get_campaign(campaign_id)
    actions[action](campaign)
    return _detail(services.get_campaign(campaign_id))
