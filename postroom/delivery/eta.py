"""When a campaign will finish: its backlog, its share of the sender, every window.

A limited sender's long-run rate is fixed by its windows (`sustained_rate`),
and the campaigns sharing it divide that rate by their weights; when one
finishes, the others' shares grow. `finish_in` plays that forward exactly
(water-filling), so the ETA moves as campaigns start, pause or finish. An
unlimited sender has no rate to compute from: its ETA follows the measured
rate instead.
"""

import math
import time
from datetime import UTC, datetime

from django.db.models import Count, Q

from postroom.campaigns import pools
from postroom.campaigns.models import Campaign
from postroom.campaigns.windows import SendWindow
from postroom.delivery import ratelimit
from postroom.delivery.models import Delivery, Sender

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


def pool_parts(pool: dict[int | None, int]) -> dict[int | None, float]:
    """The part of a campaign's backlog each sender of its pool carries, by weight.

    A sender that cannot be reached carries none while the others can: the
    scheduler moves its share to them.
    """
    down = set(
        Sender.objects.filter(
            id__in=[s for s in pool if s], failing_since__isnull=False
        ).values_list("id", flat=True)
    )
    carrying = {s: w for s, w in pool.items() if s not in down} or pool
    total = sum(carrying.values())
    return {s: carrying.get(s, 0) / total for s in pool}


def backlogs_on(sender_id: int | None) -> dict[int, tuple[int, int]]:
    """Running campaigns on a sender with their backlog and weight (priority).

    A campaign with a pool counts here with the part of its backlog this
    sender carries (`pool_parts`).
    """
    pooled = pools.using(sender_id) if sender_id is not None else []
    running = {
        cid: (primary, priority)
        for cid, primary, priority in Campaign.objects.filter(status=Campaign.Status.RUNNING)
        .filter(Q(sender=sender_id) | Q(id__in=pooled))
        .values_list("id", "sender_id", "priority")
    }
    counts = dict(
        Delivery.objects.filter(campaign_id__in=running, state__in=BACKLOG_STATES)
        .values("campaign_id")
        .annotate(n=Count("id"))
        .values_list("campaign_id", "n")
    )
    members = pools.weights((cid, primary) for cid, (primary, _) in running.items())
    result = {}
    for cid, (_, priority) in running.items():
        part = pool_parts(members[cid]).get(sender_id, 0.0) if len(members[cid]) > 1 else 1.0
        result[cid] = (math.ceil(counts.get(cid, 0) * part), priority or 1)
    return result


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
    A pooled campaign finishes when the slowest of its senders has sent its part.
    """

    if campaign.status != Campaign.Status.RUNNING:
        return None
    now = time.time() if now is None else now
    backlog = Delivery.objects.filter(campaign_id=campaign.pk, state__in=BACKLOG_STATES).count()
    if backlog == 0:
        return None
    pool = pools.weights([(campaign.pk, campaign.sender_id)])[campaign.pk]
    parts = pool_parts(pool) if len(pool) > 1 else {campaign.sender_id: 1.0}
    estimates = [
        estimate(
            sender_id,
            math.ceil(backlog * part),
            campaign.priority or 1,
            campaign_id=campaign.pk,
            now=now,
            measured_rate=(measured_rate or 0.0) * part,
        )
        for sender_id, part in parts.items()
        if part > 0
    ]
    if not estimates or None in estimates:
        return None
    seconds = max(e for e in estimates if e is not None)
    window = campaign.send_window()
    if window.limited:
        return _within_window(campaign, window, backlog / max(seconds, 1e-3), now)
    return datetime.fromtimestamp(now + seconds, tz=UTC)


def _within_window(campaign: Campaign, window: SendWindow, rate: float, now: float):
    """The finish when each zone's rows go only while its window is open, at `rate`.

    The rate is what the campaign gets while it sends (its share of the sender),
    so the ETA is the backlog over that rate spread across the open hours.
    """
    by_zone = dict(
        Delivery.objects.filter(campaign_id=campaign.pk, state__in=BACKLOG_STATES)
        .values("zone")
        .annotate(n=Count("id"))
        .values_list("zone", "n")
    )
    moment = datetime.fromtimestamp(now, tz=UTC)
    return window.finish(by_zone, rate, moment, campaign.started_at or moment)
