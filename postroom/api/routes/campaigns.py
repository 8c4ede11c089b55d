"""/api/campaigns"""

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from postroom.campaigns import services
from postroom.campaigns.cli import as_json
from postroom.campaigns.models import Campaign
from postroom.delivery import control, progress
from postroom.delivery.models import Delivery
from postroom.errors import InvalidInput

router = Router(tags=["campaigns"])
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


@router.post("", response={201: dict})
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


@router.get("/{campaign_id}")
def get(request: HttpRequest, campaign_id: int) -> dict:
    return _detail(services.get_campaign(campaign_id))


@router.get("/{campaign_id}/deliveries")
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


@router.post("/{campaign_id}/{action}")
def act(request: HttpRequest, campaign_id: int, action: str) -> dict:
    """start, pause, resume, cancel or retry-failed, as `postroom campaign ACTION ID`."""
    actions = {
        "start": control.start,
        "pause": control.pause,
        "resume": control.resume,
        "cancel": control.cancel,
        "retry-failed": control.retry_failed,
    }
    if action not in actions:
        raise InvalidInput(f"unknown action {action!r}: use one of {', '.join(actions)}")
    campaign = services.get_campaign(campaign_id)
    actions[action](campaign)
    return _detail(services.get_campaign(campaign_id))
