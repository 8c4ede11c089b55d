"""/api/campaigns/{id}/…: sending control, the ledger (JSON pages and CSV), recipients in
doubt and their resolution, and the campaign's event log.

Registered after the campaigns router: `/{campaign_id}/{action}` would otherwise
take `/{campaign_id}/schedule` and the like.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Literal

from django.http import HttpRequest, StreamingHttpResponse
from django.utils.translation import gettext
from ninja import Field, Query, Router, Schema

from postroom.api.errors import errors
from postroom.api.fields import Body, RowId
from postroom.api.pages import Id, Page, PageParams, keyset
from postroom.api.routes.campaigns import campaign, detail
from postroom.campaigns.models import Campaign
from postroom.delivery import control, doubt, export
from postroom.delivery.models import CampaignEvent
from postroom.errors import InvalidInput

router = Router(tags=["campaigns"])
Action = Literal["start", "pause", "resume", "cancel", "retry-failed"]
# "pending" also counts rows being sent or waiting to be retried, as the UI's filter does.
State = Literal["pending", "sending", "retry", "sent", "failed", "skipped", "in_doubt"]
CSV = {
    "responses": {
        200: {
            "description": "One line per recipient: " + ", ".join(export.COLUMNS),
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    }
}


class LedgerFilters(Schema):
    state: State | None = None
    q: str = Field("", max_length=320, description="part of the address")


def _row(d) -> dict:
    return {
        "id": d.pk,
        "email": d.email,
        "state": d.state,
        "attempts": d.attempts,
        "sent_at": d.sent_at.isoformat() if d.sent_at else None,
        "reply": d.reply,
        "error": d.error,
        "message_id": d.message_id,
    }


@router.get("/{campaign_id}/deliveries", response={200: Page, **errors(404)})
def deliveries(
    request: HttpRequest,
    campaign_id: Id,
    filters: Query[LedgerFilters],
    paging: Query[PageParams],
) -> dict:
    """The ledger, one object per recipient, in id order (keyset pages)."""
    found = campaign(request, campaign_id)
    return keyset(export.deliveries(found.pk, filters.state or "", filters.q), paging, _row)


@router.get(
    "/{campaign_id}/deliveries.csv",
    response={200: None, **errors(404)},
    openapi_extra=CSV,
)
def deliveries_csv(request: HttpRequest, campaign_id: Id, filters: Query[LedgerFilters]):
    """The ledger as CSV, streamed (a million rows in flat memory); editors and above."""
    found = campaign(request, campaign_id)
    state = filters.state or ""
    response = StreamingHttpResponse(
        export.csv_lines(found.pk, state, filters.q), content_type="text/csv; charset=utf-8"
    )
    name = f"campaign-{found.pk}-deliveries{'-' + state if state else ''}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


class EventOut(Schema):
    id: int
    at: datetime
    kind: str
    message: str


@router.get("/{campaign_id}/events", response={200: Page, **errors(404)})
def events(request: HttpRequest, campaign_id: Id, paging: Query[PageParams]) -> dict:
    """The campaign's log: started, paused and why, sender errors, resumed, finished."""
    found = campaign(request, campaign_id)
    return keyset(
        CampaignEvent.objects.filter(campaign=found),
        paging,
        lambda e: {"id": e.pk, "at": e.at.isoformat(), "kind": e.kind, "message": e.message},
    )


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


class ResolveIn(Body):
    outcome: Literal["delivered", "resend"]
    emails: list[str] | None = Field(None, description="recipients to settle, by address")
    ids: list[RowId] | None = Field(None, description="recipients to settle, by delivery id")
    all: bool = Field(False, description="settle every recipient in doubt")


class ResolveOut(Schema):
    id: int
    status: str
    outcome: str
    resolved: int


@router.get("/{campaign_id}/in-doubt", response={200: InDoubtPage, **errors(404)})
def in_doubt(request: HttpRequest, campaign_id: Id, paging: Query[PageParams]):
    """Recipients whose message the server may or may not have accepted, with what is known."""
    found = campaign(request, campaign_id)
    rows = doubt.rows_in_doubt(found)
    page = keyset(rows.select_related("sender"), paging, lambda row: doubt.known(row, found))
    return {"count": rows.count(), **page}


@router.post("/{campaign_id}/resolve", response={200: ResolveOut, **errors(400, 404)})
def resolve(request: HttpRequest, campaign_id: Id, data: ResolveIn):
    """Settle recipients in doubt: `delivered` (never resend) or `resend` (queue them again).

    Give `emails` and/or `ids`, or `all: true`. A recipient that is not in doubt
    refuses the whole call and changes nothing.
    """
    found = campaign(request, campaign_id)
    picked = data.emails is not None or data.ids is not None
    if picked == data.all:
        raise InvalidInput(gettext("give `emails` or `ids`, or `all: true` (not both)"))
    emails, ids = (data.emails or [], data.ids or []) if picked else (None, None)
    by = f"{request.user.get_username()} (API)"
    count = doubt.resolve(found, data.outcome == "delivered", emails=emails, ids=ids, by=by)
    found.refresh_from_db()
    return {"id": found.pk, "status": found.status, "outcome": data.outcome, "resolved": count}


ACTIONS: dict[str, Callable[[Campaign], object]] = {
    "start": control.start,
    "pause": control.pause,
    "resume": control.resume,
    "cancel": control.cancel,
    "retry-failed": control.retry_failed,
}


@router.post("/{campaign_id}/{action}", response={200: dict, **errors(400, 404)})
def act(request: HttpRequest, campaign_id: Id, action: Action) -> dict:
    """start, pause, resume, cancel or retry-failed, as `postroom campaign ACTION ID`."""
    found = campaign(request, campaign_id)
    ACTIONS[action](found)
    return detail(found)
