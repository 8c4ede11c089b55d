"""Which campaign a worker serves next, and how many recipients it may claim.

First version: round-robin over running campaigns that have work, no limits.
The real one (fair share per sender, rate limits) keeps the same signatures.
"""

import itertools
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db.models import Q

# Without a limit a worker claims this many recipients at once: big enough to
# amortise a claim, small enough that a pause takes effect within a second or so.
UNLIMITED_BATCH = 500

_last_campaign_id: int = 0
_tokens = itertools.count(1)


@dataclass
class Grant:
    """Permission to claim up to `count` recipients of one campaign now."""

    campaign_id: int
    sender_id: int | None
    count: int
    # Epoch seconds before which each message must not be sent; None = at once.
    send_times: list[float] | None
    token: str


def _campaigns_with_work(now: float) -> list[tuple[int, int | None]]:
    from postroom.campaigns.models import Campaign
    from postroom.delivery.models import Delivery

    due = datetime.fromtimestamp(now, tz=UTC)
    work = Delivery.objects.filter(
        Q(state="pending") | Q(state="retry", next_attempt_at__lte=due),
        campaign_id__in=Campaign.objects.filter(status=Campaign.Status.RUNNING).values("id"),
    )
    ids = sorted(set(work.values_list("campaign_id", flat=True).distinct()))
    senders = dict(Campaign.objects.filter(id__in=ids).values_list("id", "sender_id"))
    return [(cid, senders[cid]) for cid in ids]


def next_grant(worker_id: str, now: float | None = None) -> Grant | None:
    """The next campaign to serve in round-robin order, or None when nothing has work."""
    global _last_campaign_id
    now = time.time() if now is None else now
    candidates = _campaigns_with_work(now)
    if not candidates:
        return None
    after = [c for c in candidates if c[0] > _last_campaign_id]
    campaign_id, sender_id = (after or candidates)[0]
    _last_campaign_id = campaign_id
    token = f"{worker_id}:{next(_tokens)}:{uuid.uuid4().hex[:8]}"
    return Grant(campaign_id, sender_id, UNLIMITED_BATCH, None, token)


def release(grant: Grant, unused: int) -> None:
    """Give back the part of a grant the worker did not use (nothing to do without limits)."""


def notify() -> None:
    """Wake sleeping workers: a campaign was started, paused, resumed or cancelled."""


def sleep_until_work(max_seconds: float) -> None:
    """Sleep cheaply; returns within about a second when something may have changed."""
    time.sleep(max(0.0, min(max_seconds, 0.5)))
