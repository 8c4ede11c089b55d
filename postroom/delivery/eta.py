"""When a campaign will finish: its backlog, its share of the sender, every window.

A limited sender's long-run rate is fixed by its windows (`sustained_rate`),
and the campaigns sharing it divide that rate by their weights; when one
finishes, the others' shares grow. `finish_in` plays that forward exactly
(water-filling), so the ETA moves as campaigns start, pause or finish. An
unlimited sender has no rate to compute from: its ETA follows the measured
rate instead.
"""

import time
from datetime import UTC, datetime

from django.db.models import Count

from postroom.campaigns.models import Campaign
from postroom.delivery import ratelimit
from postroom.delivery.models import Delivery

# Rows still to send: pending, waiting for a retry, or claimed but not yet sent.
BACKLOG_STATES = ("pending", "retry", "sending")


def finish_in(backlogs: dict[int, tuple[int, int]], rate: float) -> dict[int, float]:
    """Seconds until each campaign finishes: {id: (backlog, weight)} sharing `rate` msgs/s."""
    left = {cid: float(backlog) for cid, (backlog, _) in backlogs.items() if backlog > 0}
    weights = {cid: max(1, backlogs[cid][1]) for cid in left}
    done: dict[int, float] = {cid: 0.0 for cid in backlogs if cid not in left}
    elapsed = 0.0
    while left:
        total = sum(weights[cid] for cid in left)
        speed = {cid: rate * weights[cid] / total for cid in left}
        step = min(left[cid] / speed[cid] for cid in left)
        elapsed += step
        for cid in list(left):
            left[cid] -= speed[cid] * step
            if left[cid] <= 1e-9:
                done[cid] = elapsed
                del left[cid]
    return done


def backlogs_on(sender_id: int | None) -> dict[int, tuple[int, int]]:
    """Running campaigns on a sender with their backlog and weight (priority)."""

    running = dict(
        Campaign.objects.filter(status=Campaign.Status.RUNNING, sender=sender_id).values_list(
            "id", "priority"
        )
    )
    counts = dict(
        Delivery.objects.filter(campaign_id__in=running, state__in=BACKLOG_STATES)
        .values("campaign_id")
        .annotate(n=Count("id"))
        .values_list("campaign_id", "n")
    )
    return {cid: (counts.get(cid, 0), priority or 1) for cid, priority in running.items()}


def estimate(
    sender_id: int | None,
    backlog: int,
    weight: int = 1,
    campaign_id: int | None = None,
    now: float | None = None,
    measured_rate: float = 0.0,
) -> float | None:
    """Seconds to send `backlog` messages at this sender, sharing it with the others.

    `campaign_id` is the campaign itself when it is already running (counted
    once). None when nothing says how fast it goes (no limit, no measured rate).
    """
    now = time.time() if now is None else now
    windows = ratelimit.windows_for(sender_id)
    if not windows:
        return backlog / measured_rate if measured_rate > 0 else None
    shares = backlogs_on(sender_id)
    key = campaign_id if campaign_id is not None else -1
    shares[key] = (backlog, weight)
    free_at = ratelimit.next_free_at(sender_id, now) or now
    return max(0.0, free_at - now) + finish_in(shares, ratelimit.sustained_rate(windows))[key]


def campaign_eta(
    campaign: Campaign, measured_rate: float | None, now: float | None = None
) -> datetime | None:
    """When the running campaign should finish; None when paused, done or unknown.

    `measured_rate` is the campaign's own recent rate (progress.rate), which
    the caller has: asking progress from here would make the two import each other.
    """

    if campaign.status != Campaign.Status.RUNNING:
        return None
    now = time.time() if now is None else now
    backlog = Delivery.objects.filter(campaign_id=campaign.pk, state__in=BACKLOG_STATES).count()
    if backlog == 0:
        return None
    seconds = estimate(
        campaign.sender_id,
        backlog,
        campaign.priority or 1,
        campaign_id=campaign.pk,
        now=now,
        measured_rate=measured_rate,
    )
    if seconds is None:
        return None
    return datetime.fromtimestamp(now + seconds, tz=UTC)
