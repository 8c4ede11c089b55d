"""What a campaign's delivery looks like right now: counts, rate, errors, stalls."""

import time
from datetime import datetime, timedelta

from django.db.models import Count
from django.utils import timezone

from postroom.campaigns import pools
from postroom.campaigns.models import Campaign
from postroom.delivery import sendwindows
from postroom.delivery.autopause import min_outcomes
from postroom.delivery.eta import campaign_eta
from postroom.delivery.ledger import WORKER_STALE
from postroom.delivery.models import CampaignRun, Delivery, Sender, Worker
from postroom.delivery.ratelimit import next_free_at
from postroom.delivery.waiting import state as wait_state

State = Delivery.State

# Nothing sent for this long although recipients are due: say it is stalled.
STALL_MINUTES = 5


def campaign_counts(campaign: Campaign | int) -> dict[str, int]:
    """Recipients by state in one GROUP BY over the claim index.

    "pending" is everything not yet final: waiting, being sent, or waiting for a retry.
    """
    campaign_id = campaign if isinstance(campaign, int) else campaign.pk
    rows = (
        Delivery.objects.filter(campaign_id=campaign_id)
        .order_by()
        .values_list("state")
        .annotate(n=Count("id"))
    )
    by_state = dict(rows)
    return {
        "pending": sum(by_state.get(s, 0) for s in (State.PENDING, State.SENDING, State.RETRY)),
        "sent": by_state.get(State.SENT, 0),
        "failed": by_state.get(State.FAILED, 0),
        "skipped": by_state.get(State.SKIPPED, 0),
        "in_doubt": by_state.get(State.IN_DOUBT, 0),
        "retry": by_state.get(State.RETRY, 0),
        "sending": by_state.get(State.SENDING, 0),
    }


def rate(campaign: Campaign | int) -> float:
    """Messages per second over the last few seconds (0 when nothing moved lately)."""
    campaign_id = campaign if isinstance(campaign, int) else campaign.pk
    run = CampaignRun.objects.filter(campaign_id=campaign_id).first()
    if run is None or time.time() - run.last_progress > 30:
        return 0.0
    return round(run.rate, 1)


def last_errors(campaign: Campaign | int, limit: int = 5) -> list[dict]:
    """The most recent failures and retries, newest first."""
    campaign_id = campaign if isinstance(campaign, int) else campaign.pk
    rows = (
        Delivery.objects.filter(
            campaign_id=campaign_id, state__in=(State.FAILED, State.RETRY, State.IN_DOUBT)
        )
        .exclude(error="")
        .order_by("-updated_at")[:limit]
    )
    return [
        {"email": d.email, "state": d.state, "error": d.error, "at": d.updated_at} for d in rows
    ]


def live_workers() -> list[Worker]:
    return list(Worker.objects.filter(last_seen__gte=timezone.now() - WORKER_STALE))


def waiting(campaign: Campaign, counts: dict[str, int] | None = None) -> dict | None:
    """The sender this running campaign waits for (it cannot be reached), or None.

    {"sender", "since", "next_try", "error"}: see delivery.waiting.state. A campaign
    with a pool waits only while every sender of it is down; it is then shown
    waiting for the one whose outage began first.
    """
    if campaign.status != Campaign.Status.RUNNING or not campaign.sender_id:
        return None
    counts = counts if counts is not None else campaign_counts(campaign)
    if not counts["pending"]:
        return None
    # Read afresh: the health changes under any Campaign instance the caller holds.
    pool = pools.weights([(campaign.pk, campaign.sender_id)])[campaign.pk]
    members = list(Sender.objects.filter(id__in=[s for s in pool if s is not None]))
    if not members or not all(sender.is_waiting for sender in members):
        return None
    return wait_state(min(members, key=_outage_began))


def _outage_began(sender: Sender) -> datetime:
    if sender.failing_since is None:
        raise ValueError(f"sender {sender.pk} is not waiting")
    return sender.failing_since


def stall_reason(
    campaign: Campaign,
    counts: dict[str, int] | None = None,
    waits: dict | None = None,
    window: dict | None = None,
) -> str:
    """Why a running campaign is not moving although it should, or ''.

    Waiting for a sender that cannot be reached is not a stall: it heals by itself
    and `waiting` says so. Nor is waiting for the send window (`window`, from
    sendwindows.summary), and only recipients in zones open now count as due.
    """
    if campaign.status != Campaign.Status.RUNNING:
        return ""
    counts = counts if counts is not None else campaign_counts(campaign)
    if not counts["pending"]:
        return ""
    if not live_workers():
        return "no worker is running — start `postroom worker`"
    if waits is not None or waiting(campaign, counts) is not None:
        return ""
    if window is None:
        window = sendwindows.summary(campaign, counts["pending"])
    if window is not None and window["waiting"]:
        return ""
    due = counts["pending"] - counts["retry"]
    if window is not None:
        zones = sendwindows.open_now(campaign)
        due = sendwindows.due_rows(campaign, zones).filter(state=State.PENDING).count()
    if not due:
        return ""
    run = CampaignRun.objects.filter(campaign_id=campaign.pk).first()
    started = campaign.started_at.timestamp() if campaign.started_at else time.time()
    last = max(run.last_progress if run else 0.0, started)
    idle = time.time() - last
    if idle > STALL_MINUTES * 60 and _limits_allow(campaign):
        return (
            f"nothing has progressed for {int(idle // 60)} minutes although"
            f" {due} recipients are waiting and the sender's limits allow sending"
        )
    return ""


def _limits_allow(campaign: Campaign) -> bool:
    """Whether the sender's rate limits have room now (a 35/hour wait is not a stall)."""
    free_at = next_free_at(campaign.sender_id)
    return free_at is None or free_at <= time.time() + 60


def summary(campaign: Campaign) -> dict:
    """Everything `campaign status` and the live panel show."""
    counts = campaign_counts(campaign)
    eta = campaign_eta(campaign, rate(campaign))
    total = sum(counts[k] for k in ("pending", "sent", "failed", "skipped", "in_doubt"))
    waits = waiting(campaign, counts)
    window = sendwindows.summary(campaign, counts["pending"])
    return {
        "status": campaign.status,
        "status_reason": campaign.status_reason,
        "counts": {k: counts[k] for k in ("pending", "sent", "failed", "skipped", "in_doubt")},
        "total": total,
        "rate": rate(campaign),
        "eta": eta.isoformat() if eta else None,
        "stalled": stall_reason(campaign, counts, waits, window) or None,
        "waiting": waits,
        # The send window and whether the campaign waits for it (sendwindows.summary).
        "window": window,
        "error_threshold": {
            "percent": campaign.error_threshold_percent,
            "window": campaign.error_window,
            "min_outcomes": min_outcomes(campaign.error_window),
        },
        "started_at": campaign.started_at.isoformat() if campaign.started_at else None,
        "finished_at": campaign.finished_at.isoformat() if campaign.finished_at else None,
    }


def recent_window() -> timedelta:
    return timedelta(minutes=STALL_MINUTES)
