"""A running campaign's send window against its ledger: which reader zones may be sent now.

The window itself is pure (campaigns.windows); this module gives it the zones
the campaign's ledger holds (found once at the start, `CampaignRun.zones`) and
answers the claim, the scheduler, the status and the ETA. A campaign whose
open zones have nobody left waits for its window: running, not stalled, with
the next opening shown, and no alert.
"""

from datetime import UTC, datetime

from django.db.models import Q
from django.utils import timezone

from postroom.campaigns.models import Campaign
from postroom.delivery.models import CampaignRun, Delivery

State = Delivery.State
# Per process: campaign id → (its start and stamp, its ledger's zones). A campaign's
# rows get their zones at the start; a sequence step's ledger grows, and a new zone
# in it moves the campaign's stamp (automations.stepwindows), so this never goes stale.
_zones: dict[int, tuple[tuple, list[str]]] = {}


def ledger_zones(campaign: Campaign) -> list[str]:
    key = (campaign.started_at, campaign.updated_at)
    cached = _zones.get(campaign.pk)
    if cached is not None and cached[0] == key:
        return cached[1]
    zones = CampaignRun.objects.filter(campaign_id=campaign.pk).values_list("zones", flat=True)
    found = list(zones.first() or [])
    _zones[campaign.pk] = (key, found)
    return found


def open_now(campaign: Campaign, now: datetime | None = None) -> list[str] | None:
    """The ledger zones whose readers may get the campaign now; None: no window, all of them."""
    window = campaign.send_window()
    if not window.limited:
        return None
    now = now or timezone.now()
    return list(window.state(ledger_zones(campaign), now, campaign.started_at or now).open)


def due_rows(campaign: Campaign, zones: list[str] | None, now: datetime | None = None):
    """Rows that could be claimed now (pending, or retries whose back-off is over)."""
    now = now or timezone.now()
    rows = Delivery.objects.filter(
        Q(state=State.PENDING) | Q(state=State.RETRY, next_attempt_at__lte=now),
        campaign_id=campaign.pk,
    )
    return rows if zones is None else rows.filter(zone__in=zones)


def summary(campaign: Campaign, pending: int, now: datetime | None = None) -> dict | None:
    """The window as `campaign status` and the pages show it; None without one.

    `waiting`: running with recipients left, none of them in a zone open now, so
    nothing can go until `next_opening`.
    """
    window = campaign.send_window()
    if not window.limited:
        return None
    now = now or timezone.now()
    data = window.as_dict() or {}
    zones = ledger_zones(campaign) if campaign.started_at else []
    state = window.state(zones, now, campaign.started_at or now)
    waiting = False
    if campaign.status == Campaign.Status.RUNNING and pending:
        waiting = not due_rows(campaign, list(state.open), now).exists()
    next_opening = state.next_opening
    if not campaign.started_at:  # not started: when the installation's zone would open
        next_opening = window.opens_at(window.fallback, now, now)
    data.update(
        {
            "zones": len(zones),
            "open_zones": len(state.open),
            "waiting": waiting,
            "next_opening": next_opening.astimezone(UTC).isoformat() if next_opening else None,
        }
    )
    return data


def waiting_text(data: dict) -> str:
    """`waiting for its send window (09:00-17:00 ...), opens 2026-12-04T08:00:00+00:00`."""
    opens = f", next opening {data['next_opening']}" if data["next_opening"] else ""
    return f"waiting for its send window ({data['description']}){opens}"
