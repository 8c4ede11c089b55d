"""/api/campaigns: drafts, their content and audience, schedule, preview, test, statistics.

Sending control and the ledger are in campaign_delivery. Every route calls the
campaigns' services, the functions the UI's editor and the CLI call.
"""

from typing import Annotated, Any, Literal

from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext
from ninja import Field, Query, Router, Schema, Status

from postroom.api import scope
from postroom.api.errors import errors
from postroom.api.fields import WHOLE, Body
from postroom.api.pages import Id
from postroom.audience.models import MailingList, Subscriber
from postroom.campaigns import layouts, pools, services, windows
from postroom.campaigns.cli import as_json
from postroom.campaigns.models import Campaign
from postroom.delivery import control, progress
from postroom.delivery.senders import get_sender
from postroom.errors import InvalidInput, NotFound
from postroom.tracking import activity

router = Router(tags=["campaigns"])

Format = Literal["markdown", "html", "plain"]
CampaignStatus = Literal["draft", "scheduled", "running", "paused", "cancelled", "finished"]


class PoolMemberIn(Body):
    sender: str
    weight: Annotated[int, Field(ge=1, le=pools.MAX_WEIGHT), WHOLE] = 1


class WindowIn(Body):
    """A send window on each reader's wall clock (their `timezone` attribute)."""

    hours: str | None = Field(None, description="send only between these hours: 09:00-17:00")
    days: str | None = Field(None, description="with hours: the weekdays, mon-fri or sat,sun")
    local_time: str | None = Field(
        None, description="or send at this time (09:00) on local_date, or the first after the start"
    )
    local_date: str | None = Field(None, description="with local_time: YYYY-MM-DD")
    timezone: str | None = Field(
        None, description="the zone of readers without one; default the installation's"
    )


class CampaignFields(Body):
    """What a campaign is made of; names of lists, segment, sender and layout."""

    name: str | None = None
    subject: str | None = Field(None, description="a template: {{ subscriber.name }} works")
    body: str | None = None
    format: Format | None = None
    text_body: str | None = Field(None, description="the plain-text part; derived when empty")
    preheader: str | None = None
    lists: list[str] | None = None
    segment: str | None = Field(None, description="a segment's name; empty string for none")
    from_email: str | None = None
    from_name: str | None = None
    reply_to: str | None = None
    sender: str | None = Field(None, description="a sender's name; empty string for the default")
    layout: str | None = Field(None, description="a layout's name")
    pool: list[PoolMemberIn] | None = Field(
        None, description="senders sharing the campaign by weight, the first the main one"
    )
    headers: dict[str, str] | None = None
    track_opens: bool | None = None
    track_clicks: bool | None = None
    in_archive: bool | None = Field(
        None,
        description="once finished, shown in the public archive of each of its public lists;"
        " changeable in any state, also after the send",
    )
    priority: Annotated[int, Field(ge=1, le=100), WHOLE] | None = None
    # Pause itself when more than this share of the last `error_window` recipients fail for
    # good (counted across every worker); a sender that cannot be reached never pauses it.
    error_threshold_percent: Annotated[int, Field(ge=1, le=100), WHOLE] | None = None
    error_window: Annotated[int, Field(ge=10, le=10_000), WHOLE] | None = None
    window: WindowIn | None = Field(
        None, description="when each reader may get it, in their time zone; null: any time"
    )


class CampaignIn(CampaignFields):
    name: str
    subject: str
    body: str
    lists: list[str] = Field(default_factory=list)
    format: Format = "markdown"
    from_email: str = ""
    from_name: str = ""
    in_archive: bool = False
    priority: Annotated[int, Field(ge=1, le=100), WHOLE] = 1
    error_threshold_percent: Annotated[int, Field(ge=1, le=100), WHOLE] = 20
    error_window: Annotated[int, Field(ge=10, le=10_000), WHOLE] = 200


class ScheduleIn(Body):
    send_at: str = Field(description="ISO 8601; without an offset it is read in `timezone`")
    timezone: str = Field("", description="an IANA zone, e.g. Europe/Berlin")


class TestIn(Body):
    emails: list[str] = Field(description="1 to 20 addresses")
    prefix: bool = Field(True, description='put "[Test] " before the subject')


class TestOut(Schema):
    email: str
    ok: bool
    queued: bool = Field(description="waits for the sender's rate limit; a worker sends it")
    message: str


class CampaignPreviewOut(Schema):
    subject: str
    html: str
    text: str


class CampaignFilters(Schema):
    status: CampaignStatus | None = None


def campaign(request: HttpRequest, campaign_id: int) -> Campaign:
    """The campaign, if this caller may see it."""
    found = services.get_campaign(campaign_id)
    if (
        scope.narrowed(request)
        and not scope.campaigns(request, Campaign.objects.all()).filter(pk=found.pk).exists()
    ):
        raise NotFound(
            gettext("campaign %(campaign_id)s does not exist") % {"campaign_id": campaign_id}
        )
    return found


def detail(found: Campaign) -> dict:
    found = services.get_campaign(found.pk)
    return {
        **as_json(found, services.audience_count(found)),
        "progress": progress.summary(found),
    }


def _fields(data: CampaignFields, given: set[str]) -> dict[str, Any]:
    """The service's keyword arguments for the keys the caller gave."""
    plain = {
        "name", "subject", "body", "text_body", "preheader", "from_email", "from_name",
        "reply_to", "headers", "track_opens", "track_clicks", "in_archive", "priority",
        "error_threshold_percent", "error_window",
    }  # fmt: skip
    values = data.dict()
    fields = {k: values[k] for k in given & plain if values[k] is not None}
    if "format" in given and data.format:
        fields["body_format"] = data.format
    if "segment" in given:
        fields["segment"] = services.segment_by_name(data.segment)
    if "sender" in given:
        fields["sender"] = get_sender(data.sender) if data.sender else None
    if "layout" in given:
        fields["layout"] = layouts.layout_by_name(data.layout)
    if "window" in given:
        window = data.window
        fields.update(
            windows.fields_from_text(
                window.hours, window.days, window.local_time, window.local_date, window.timezone
            )
            if window is not None
            else windows.fields_from_text()
        )
    if "pool" in given and data.pool is not None:
        fields["pool"] = pools.resolve([(m.sender, m.weight) for m in data.pool])
    return fields


def _lists(request: HttpRequest, names: list[str] | None) -> list[MailingList] | None:
    return None if names is None else scope.lists_to_mail(request, names)


@router.get("", response={200: list[dict], **errors(400)})
def all_campaigns(request: HttpRequest, filters: Query[CampaignFilters]) -> list[dict]:
    qs = Campaign.objects.filter(kind=Campaign.Kind.NEWSLETTER)
    qs = qs.select_related("segment", "sender", "layout").prefetch_related("lists")
    if filters.status:
        qs = qs.filter(status=filters.status)
    return [as_json(c) for c in scope.campaigns(request, qs).distinct()]


@router.post("", response={201: dict, **errors(400, 403, 404)})
def create(request: HttpRequest, data: CampaignIn):
    """A new draft; the templates are checked (with their line) before anything is saved."""
    fields = _fields(data, data.model_fields_set | {"name", "subject", "body", "format"})
    lists = _lists(request, data.lists) or []
    scope.check_audience(request, lists, fields.get("segment"))
    if not lists and not fields.get("segment"):
        raise InvalidInput(gettext("give at least one list or a segment"))
    made = services.create_campaign(lists=lists, created_by=request.user, **fields)
    return Status(201, detail(made))


@router.get("/{campaign_id}", response={200: dict, **errors(404)})
def get(request: HttpRequest, campaign_id: Id) -> dict:
    """The campaign with its audience now and its sending progress."""
    return detail(campaign(request, campaign_id))


@router.patch("/{campaign_id}", response={200: dict, **errors(400, 403, 404)})
def change(request: HttpRequest, campaign_id: Id, data: CampaignFields) -> dict:
    """Change a draft or scheduled campaign (only the keys given); refused once it started.

    `in_archive` alone may change in any state (a sent campaign is the one to archive).
    """
    found = campaign(request, campaign_id)
    fields = _fields(data, data.model_fields_set)
    in_archive = fields.pop("in_archive", None)
    lists = _lists(request, data.lists)
    if lists is not None or "segment" in fields:
        scope.check_audience(
            request,
            found.lists.all() if lists is None else lists,
            fields.get("segment", found.segment),
        )
    with transaction.atomic():
        if fields or lists is not None or in_archive is None:
            found = services.update_campaign(found, lists=lists, **fields)
        if in_archive is not None:
            services.set_in_archive(found, in_archive)
    return detail(found)


@router.delete("/{campaign_id}", response={204: None, **errors(400, 404)})
def delete(request: HttpRequest, campaign_id: Id):
    """Only a campaign that never started; the rest is history."""
    services.delete_campaign(campaign(request, campaign_id))
    return Status(204, None)


@router.post("/{campaign_id}/duplicate", response={201: dict, **errors(404)})
def duplicate(request: HttpRequest, campaign_id: Id):
    """A new draft with the same content and audience, never the same schedule or state."""
    copy = services.duplicate_campaign(campaign(request, campaign_id), created_by=request.user)
    return Status(201, detail(copy))


@router.put("/{campaign_id}/schedule", response={200: dict, **errors(400, 404)})
def schedule(request: HttpRequest, campaign_id: Id, data: ScheduleIn) -> dict:
    """Start at `send_at` (a worker starts it when due); a draft or a scheduled campaign."""
    found = campaign(request, campaign_id)
    when, zone = services.parse_send_at(data.send_at, data.timezone)
    return detail(services.schedule(found, when, zone))


@router.delete("/{campaign_id}/schedule", response={200: dict, **errors(400, 404)})
def unschedule(request: HttpRequest, campaign_id: Id) -> dict:
    """Back to a draft, while it is still waiting."""
    return detail(services.unschedule(campaign(request, campaign_id)))


@router.get("/{campaign_id}/preview", response={200: CampaignPreviewOut, **errors(400, 404)})
def preview(request: HttpRequest, campaign_id: Id, email: str = "") -> dict:
    """Subject, HTML and text as this subscriber (by address) or a sample reader gets them."""
    found = campaign(request, campaign_id)
    recipient = services.recipient_by_email(email) if email else None
    if recipient and not scope.subscribers(request, Subscriber.objects.all()).filter(
        pk=recipient.subscriber_id
    ):
        raise NotFound(gettext("no subscriber with the address %(email)s") % {"email": repr(email)})
    subject, html, text = services.preview(found, recipient)
    return {"subject": subject, "html": html, "text": text}


@router.post("/{campaign_id}/test", response={200: list[TestOut], **errors(400, 404)})
def test_send(request: HttpRequest, campaign_id: Id, data: TestIn) -> list[dict]:
    """Send a test through the campaign's sender now (or when its rate limit allows)."""
    prefix = services.TEST_SUBJECT_PREFIX if data.prefix else ""
    outcomes = control.send_test(campaign(request, campaign_id), data.emails, prefix)
    return [
        {"email": o.rcpt_to, "ok": o.ok, "queued": o.queued, "message": o.describe()}
        for o in outcomes
    ]


@router.get("/{campaign_id}/stats", response={200: dict, **errors(404)})
def stats(request: HttpRequest, campaign_id: Id) -> dict:
    """Sending progress (counts, rate, ETA) and engagement (opens, clicks, links, bounces)."""
    found = campaign(request, campaign_id)
    return {
        "id": found.pk,
        "progress": progress.summary(found),
        "engagement": activity.campaign_engagement(found),
    }
