"""/api/automations: sequences — define, add and edit steps, activate, pause, enrol by API.

The same `automations.services` as the CLI and the pages. A sequence may mail anyone
its trigger reaches (a date or the API has no list), so a caller narrowed to some
lists (a token's lists, a user's list grant) cannot use sequences at all.
"""

from datetime import datetime
from typing import Annotated, Any, Literal

from django.http import HttpRequest, StreamingHttpResponse
from django.utils.translation import gettext
from ninja import Field, Router, Schema, Status

from postroom.api import scope
from postroom.api.errors import errors
from postroom.api.fields import WHOLE, Body, RowId
from postroom.api.pages import Id
from postroom.api.routes.campaigns import WindowIn
from postroom.audience import services as audience
from postroom.audience.models import Subscriber
from postroom.automations import reorder, services
from postroom.automations.models import Automation
from postroom.campaigns import windows
from postroom.errors import InvalidInput, NotAllowed, NotFound

router = Router(tags=["automations"])

StepKind = Literal["send", "wait", "tag", "untag", "add_list", "remove_list", "branch", "webhook"]
CSV = {
    "responses": {
        200: {
            "description": "One line per person: " + ", ".join(services.CSV_COLUMNS),
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    }
}


class AutomationIn(Body):
    name: str = Field(max_length=200)
    trigger: str = Field(
        max_length=300, description="joined:LIST, confirmed:LIST, segment:NAME, date:ATTR or api"
    )
    sender: str | None = Field(None, max_length=100, description="a sender, by name")
    from_email: str = Field("", max_length=320)
    from_name: str = Field("", max_length=200)
    hour: Annotated[int, Field(ge=0, le=23, description="date triggers: the local hour"), WHOLE] = 9
    enrol_existing: bool = False


class AutomationOut(Schema):
    id: int
    name: str
    status: str
    trigger: str
    trigger_text: str
    list: str | None
    segment: str | None
    attribute: str | None
    sender: str | None
    from_email: str = Field(alias="from")
    enrol_existing: bool
    activated_at: datetime | None


class StepOut(Schema):
    position: int
    kind: str
    subject: str
    wait: str
    waiting: int = Field(description="people due to take this step next")
    sent: int
    text: str = Field(description="the step in words")
    window: dict[str, Any] | None = Field(
        None, description="a send step's send window, as a campaign's (none: any time)"
    )
    endpoint: str | None = Field(None, description="a webhook step: the endpoint it calls")


class SkippedOut(Schema):
    after: datetime
    until: datetime
    people: int = Field(description="people whose date came then, not entered")


class StatusOut(Schema):
    id: int
    name: str
    status: str
    trigger: str
    enrolled: int
    active: int
    completed: int
    stopped: int
    excluded: int
    steps: list[StepOut]
    scanned_until: datetime | None = Field(
        description="date triggers: the last moment a scan covered"
    )
    skipped: SkippedOut | None = Field(
        description="date triggers: the last stretch no scan covered, too late to catch up"
    )


class StepIn(Body):
    kind: StepKind = "send"
    wait: str = Field("0", max_length=40, description="before the step: 3d, 12h, 1d12h, 90m")
    wait_time: str = Field("", max_length=8, description="then until this local time, 09:00")
    wait_weekdays: str = Field("", max_length=40, description="with wait_time: mon,tue,…")
    subject: str = Field("", max_length=998)
    body: str = ""
    format: Literal["markdown", "html", "plain"] = "markdown"
    tag: str = Field("", max_length=100)
    list: str = Field("", max_length=200, description="add_list / remove_list: the list")
    condition: dict[str, Any] = Field(
        default_factory=dict,
        description='branch: {"if": "opened"|"clicked", "step": N}, {"if": "attribute", '
        '"name", "value"} or {"if": "segment", "segment": NAME}',
    )
    goto: Annotated[
        int, Field(ge=0, le=10_000, description="branch: the step when true (0: leave)"), WHOLE
    ] = 0
    endpoint: str = Field("", max_length=100, description="webhook: the endpoint, by name")
    window: WindowIn | None = Field(
        None,
        description="send: only within these hours in each reader's zone (as a campaign's"
        " window; local_time and local_date are not for steps: wait until a time instead)",
    )


class MoveIn(Body):
    to: Annotated[int, Field(ge=1, le=10_000, description="the step's new number"), WHOLE]


class EnrolIn(Body):
    email: str | None = Field(None, max_length=320)
    subscriber_id: RowId | None = None


class EnrolOut(Schema):
    id: int
    automation: int
    state: str
    next_at: datetime | None


def _automation(request: HttpRequest, automation_id: int) -> Automation:
    if scope.narrowed(request):
        raise NotAllowed(
            gettext("sequences can reach any subscriber: not for a caller limited to lists")
        )
    return services.get(automation_id)


def _step_values(data: StepIn) -> dict[str, Any]:
    return {
        "wait": data.wait,
        "wait_time": data.wait_time,
        "wait_weekdays": data.wait_weekdays,
        "subject": data.subject,
        "body": data.body,
        "body_format": data.format,
        "tag": data.tag,
        "mailing_list": data.list or None,
        "condition": data.condition,
        "goto": data.goto,
        "endpoint": data.endpoint or None,
        **_window(data.window),
    }


def _window(window: WindowIn | None) -> dict[str, Any]:
    """The same parsing and checks as a campaign's window (campaigns.windows)."""
    if window is None:
        return {}
    return windows.fields_from_text(
        window.hours, window.days, window.local_time, window.local_date, window.timezone
    )


@router.get("", response={200: list[AutomationOut], **errors(403)})
def all_automations(request: HttpRequest):
    if scope.narrowed(request):
        raise NotAllowed(
            gettext("sequences can reach any subscriber: not for a caller limited to lists")
        )
    return [
        services.json_of(a) for a in Automation.objects.select_related("sender", "mailing_list")
    ]


@router.post("", response={201: AutomationOut, **errors(400, 403, 404, 409)})
def create(request: HttpRequest, data: AutomationIn):
    if scope.narrowed(request):
        raise NotAllowed(
            gettext("sequences can reach any subscriber: not for a caller limited to lists")
        )
    automation = services.create(
        name=data.name,
        trigger=data.trigger,
        sender=data.sender,
        from_email=data.from_email,
        from_name=data.from_name,
        local_hour=data.hour,
        enrol_existing=data.enrol_existing,
    )
    return Status(201, services.json_of(automation))


@router.get("/{automation_id}", response={200: StatusOut, **errors(403, 404)})
def status(request: HttpRequest, automation_id: Id):
    """Counts by state (enrolled, in it now, completed, stopped) and each step's."""
    return services.status(_automation(request, automation_id))


@router.post("/{automation_id}/steps", response={201: StepOut, **errors(400, 403, 404)})
def add_step(request: HttpRequest, automation_id: Id, data: StepIn):
    automation = _automation(request, automation_id)
    step = services.add_step(automation, data.kind, **_step_values(data))
    return Status(201, _step_json(automation, step.position))


@router.put("/{automation_id}/steps/{position}", response={200: StepOut, **errors(400, 403, 404)})
def edit_step(request: HttpRequest, automation_id: Id, position: Id, data: StepIn):
    """Replace a step. On a live sequence, who passed it is not sent it again."""
    automation = _automation(request, automation_id)
    step = services.get_step(automation, position)
    services.edit_step(step, kind=data.kind, **_step_values(data))
    return _step_json(automation, position)


@router.delete(
    "/{automation_id}/steps/{position}", response={200: StatusOut, **errors(400, 403, 404)}
)
def delete_step(request: HttpRequest, automation_id: Id, position: Id):
    """Remove a step. On a live sequence, who waits for it goes on to the next step."""
    automation = _automation(request, automation_id)
    reorder.delete_step(automation, position)
    return services.status(automation)


@router.post(
    "/{automation_id}/steps/{position}/move", response={200: StatusOut, **errors(400, 403, 404)}
)
def move_step(request: HttpRequest, automation_id: Id, position: Id, data: MoveIn):
    """Give a step another number; everyone stays at the step they were at."""
    automation = _automation(request, automation_id)
    reorder.move_step(automation, position, data.to)
    return services.status(automation)


def _step_json(automation: Automation, position: int) -> dict[str, Any]:
    return next(s for s in services.status(automation)["steps"] if s["position"] == position)


@router.post("/{automation_id}/activate", response={200: StatusOut, **errors(400, 403, 404)})
def activate(request: HttpRequest, automation_id: Id):
    """Start or resume: the first time, only who triggers from now on enters."""
    automation = services.activate(_automation(request, automation_id))
    return services.status(automation)


@router.post("/{automation_id}/pause", response={200: StatusOut, **errors(400, 403, 404)})
def pause(request: HttpRequest, automation_id: Id):
    """Nobody moves on and queued messages wait until it is activated again."""
    automation = services.pause(_automation(request, automation_id))
    return services.status(automation)


@router.post("/{automation_id}/enrolments", response={201: EnrolOut, **errors(400, 403, 404, 409)})
def enrol(request: HttpRequest, automation_id: Id, data: EnrolIn):
    """The API trigger: put one subscriber (by email or id) at the start of the sequence."""
    automation = _automation(request, automation_id)
    if (data.email is None) == (data.subscriber_id is None):
        raise InvalidInput(gettext("give the subscriber's email or subscriber_id, one of them"))
    if data.email is not None:
        person = audience.get_subscriber(data.email)
    else:
        found = Subscriber.objects.filter(pk=data.subscriber_id or 0).first()
        if found is None:
            raise NotFound(
                gettext("no subscriber with id %(subscriber_id)s")
                % {"subscriber_id": data.subscriber_id}
            )
        person = found
    enrolment = services.enrol(automation, person)
    return Status(
        201,
        {
            "id": enrolment.pk,
            "automation": automation.pk,
            "state": enrolment.state,
            "next_at": enrolment.next_at,
        },
    )


@router.get(
    "/{automation_id}/positions.csv", response={200: None, **errors(403, 404)}, openapi_extra=CSV
)
def positions_csv(request: HttpRequest, automation_id: Id):
    """Each person's place (state, next step, when it is due), streamed; editors and above."""
    automation = _automation(request, automation_id)
    response = StreamingHttpResponse(
        services.positions_csv(automation), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="automation-{automation.pk}.csv"'
    return response
