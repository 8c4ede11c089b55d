"""Which campaign a worker serves next, how many recipients it may claim, and when.

Every running campaign with work belongs to its sender's queue (`sender=None`:
the local outbox, never limited). Senders are served round-robin by each
worker, so a sender waiting for its window never holds back another one.
Inside a sender, campaigns share its capacity by stride scheduling: each has a
"pass" that grows by granted/priority, the lowest pass goes next. Passes and
the sender's clock live in the database and change under the sender's lock,
so any number of workers share one fair order. A grant is small (about a
second of the sender's throughput, split among its campaigns) and carries the
send times of the slots it reserved, so a claimed batch never holds others
back for long. See docs/rate-limits.md.
"""

import math
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db.models import F, Value
from django.db.models.functions import Greatest

from postroom.campaigns import pools
from postroom.campaigns.models import Campaign
from postroom.delivery import ratelimit, sendwindows, waiting, wakeup
from postroom.delivery.models import CampaignShare

# The most recipients one grant covers, and so one batch a worker claims and
# renders at once: big enough to amortise a claim and a grant, small enough that
# a pause takes effect within a second. Senders without a limit get this many.
MAX_GRANT = 500
# A limited grant covers about this much of the sender's throughput, divided
# among the campaigns sharing it, so turns rotate at least every second.
GRANT_SECONDS = 1.0
# No grant holds a slot further ahead than this: a worker never sits on a
# claimed batch for long, and a sender whose next slot is later is skipped.
HORIZON = 2.0
# A worker this much later than a message's slot takes a fresh slot (`retime`)
# instead of sending late: half the limiter's safety margin stays for the wire.
LATE_SECONDS = ratelimit.SAFETY_MARGIN / 2
# What `_work` reads of a running campaign to know its send window.
WINDOW_FIELDS = (
    "window_start", "window_end", "window_days", "local_time", "local_date", "window_timezone",
)  # fmt: skip
# Sleeping workers look at the wake-up generation this often.
POLL_SECONDS = 0.5

# Waking the workers is the scheduler's word to its callers (start, pause, limits…).
generation = wakeup.generation
notify = wakeup.notify

# Per process: where the round-robin over senders resumes, and when the
# earliest skipped sender will have a free slot (sleep_until_work wakes then).
_sender_cursor: int = -1
_next_due: float | None = None
# Per process: sender id → (its next free slot, the generation when that was seen).
_full_until: dict[int | None, tuple[float, int]] = {}


@dataclass
class Grant:
    """Permission to claim up to `count` recipients of one campaign now, through one sender."""

    campaign_id: int
    sender_id: int | None
    count: int
    # Epoch seconds before which each message must not be sent; None = at once.
    send_times: list[float] | None
    token: str
    # A try of a sender that cannot be reached (delivery.waiting): few recipients,
    # and this worker alone may send to it until the try is recorded.
    probe: bool = False
    # The sender's weight in the campaign's pool (1 without a pool): what a release gives back.
    pool_weight: int = 1
    # A campaign with a send window: the reader zones open now, the only ones to claim.
    zones: list[str] | None = None


@dataclass
class Work:
    """What `next_grant` looks at: campaigns with work by sender, and their pools."""

    # sender id → [(campaign id, priority)]; a pooled campaign is in each member's list.
    groups: dict[int | None, list[tuple[int, int]]]
    # campaign id → {sender id: weight}, only for campaigns with several senders.
    pools: dict[int, dict[int | None, int]]
    # Senders that cannot be reached now: id → (when to look again, a probe is due).
    blocked: dict[int, tuple[float, bool]]
    now: float
    # campaign id → its zones open now, only for campaigns with a send window.
    zones: dict[int, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._free: dict[int, tuple[float, float]] = {}

    def capacity(self, sender_id: int) -> tuple[float, float]:
        """(messages a second it gives each of its campaigns, when its next slot is free)."""
        if sender_id not in self._free:
            windows = ratelimit.windows_for(sender_id)
            if not windows:
                self._free[sender_id] = (math.inf, self.now)
            else:
                rate = ratelimit.sustained_rate(windows) / max(1, len(self.groups[sender_id]))
                free = ratelimit.next_free_at(sender_id, self.now) or self.now
                self._free[sender_id] = (rate, free)
        return self._free[sender_id]

    def lag_allowed(self, sender_id: int, weight: int) -> float:
        """How far (in pool pass) this member may fall behind before its share moves on.

        Down, backing off or with no free slot within HORIZON: none, the others take
        its share at once. Otherwise about one grant of its own, so a member that
        keeps up gets its share by weight, and one held back by its rate limit
        (or by the other campaigns on it) gives away what it cannot carry.
        """
        if sender_id in self.blocked:
            return 0.0
        rate, free = self.capacity(sender_id)
        if free > self.now + HORIZON:
            return 0.0
        return max(1.0, rate * GRANT_SECONDS) / weight


def _work(now: float) -> Work:
    """Running campaigns that have recipients to send now, by sender, with their pools."""
    due = datetime.fromtimestamp(now, tz=UTC)
    running = list(
        Campaign.objects.filter(status=Campaign.Status.RUNNING).only(
            "id", "sender_id", "priority", "started_at", "updated_at", *WINDOW_FIELDS
        )
    )
    members = pools.weights((c.pk, c.sender_id) for c in running)
    groups: dict[int | None, list[tuple[int, int]]] = {}
    pooled: dict[int, dict[int | None, int]] = {}
    open_zones: dict[int, list[str]] = {}
    for campaign in running:
        campaign_id, priority = campaign.pk, campaign.priority
        # One indexed EXISTS per running campaign (there are few) stays cheap
        # however large the ledger; a DISTINCT over it would not. A campaign with
        # a send window has work only in the zones open now (delivery.sendwindows).
        zones = sendwindows.open_now(campaign, due)
        if zones and len(zones) == len(sendwindows.ledger_zones(campaign)):
            # Every zone of its ledger is open: the plain claim takes the same rows,
            # without the union of one range per zone (measured: docs/send-windows.md).
            zones = None
        if zones == [] or not sendwindows.due_rows(campaign, zones, due).exists():
            continue
        if zones is not None:
            open_zones[campaign_id] = zones
        for sender_id in members[campaign_id]:
            groups.setdefault(sender_id, []).append((campaign_id, max(1, priority or 1)))
        if len(members[campaign_id]) > 1:
            pooled[campaign_id] = members[campaign_id]
    senders = [s for s in groups if s is not None]
    return Work(groups, pooled, waiting.blocked(senders, now), now, open_zones)


def next_grant(worker_id: str, now: float | None = None) -> Grant | None:
    """The next grant for this worker, or None when no sender can send within HORIZON."""
    global _sender_cursor, _next_due
    now = time.time() if now is None else now
    work = _work(now)
    groups = work.groups
    # Round-robin over senders (None sorts first as -1), starting after the last one served.
    order = sorted(groups, key=_key)
    earliest: float | None = None
    # A sender that cannot be reached gets no grants (delivery.waiting): its campaigns
    # wait without taking slots (a pooled one goes on through the others). When its
    # next try is due, one worker wins it and gets a small grant; the others look later.
    for waiting_id, (next_try, due) in work.blocked.items():
        order.remove(waiting_id)
        if due and waiting.claim_probe(waiting_id, now):
            result = _grant_for_sender(
                waiting_id, work, worker_id, now, limit=waiting.PROBE_SIZE, probe=True
            )
            if isinstance(result, Grant):
                result.probe = True
                return result
            waiting.drop_probe(waiting_id)
            next_try = result if result is not None else now + POLL_SECONDS
        earliest = next_try if earliest is None else min(earliest, next_try)
    start = next((i for i, s in enumerate(order) if _key(s) > _sender_cursor), 0)
    current = generation() if _full_until else 0
    for sender_id in order[start:] + order[:start]:
        # A sender found full stays full until its next slot unless something
        # changed (a release, new limits, a start: each bumps the generation);
        # skipping it then saves the lock and the planning on every idle loop.
        full = _full_until.get(sender_id)
        if full is not None and now < full[0] and full[1] == current:
            earliest = full[0] if earliest is None else min(earliest, full[0])
            continue
        result = _grant_for_sender(sender_id, work, worker_id, now)
        if isinstance(result, Grant):
            _full_until.pop(sender_id, None)
            _sender_cursor = _key(sender_id)
            return result
        if result is not None:
            _full_until[sender_id] = (result, current if _full_until else generation())
            earliest = result if earliest is None else min(earliest, result)
    _next_due = earliest
    return None


def forget() -> None:
    """Drop this process's scheduling memory (tests: the database was rolled back)."""
    global _sender_cursor, _next_due
    _sender_cursor, _next_due = -1, None
    _full_until.clear()


def _key(sender_id: int | None) -> int:
    return -1 if sender_id is None else sender_id


def _shares(
    campaign_ids: Iterable[int], queues: Iterable[str]
) -> dict[tuple[int, str], CampaignShare]:
    """The share rows of these campaigns on these queues, created where missing.

    A new row joins at the campaign's furthest pool pass, so a member added or
    seen late does not claim everything "missed"; its pass among the sender's
    campaigns joins at the sender's clock in `turn`.
    """
    ids, queues = list(campaign_ids), set(queues)
    rows = CampaignShare.objects.filter(campaign_id__in=ids, queue__in=queues)
    shares = {(s.campaign_id, s.queue): s for s in rows}
    furthest: dict[int, float] = {}
    for share in shares.values():
        furthest[share.campaign_id] = max(furthest.get(share.campaign_id, 0.0), share.pool_pass)
    missing = [
        CampaignShare(campaign_id=c, queue=q, pool_pass=furthest.get(c, 0.0))
        for c in ids
        for q in queues
        if (c, q) not in shares
    ]
    if missing:
        CampaignShare.objects.bulk_create(missing, ignore_conflicts=True)
        shares.update({(s.campaign_id, s.queue): s for s in missing})
    return shares


def _pool_turn(
    campaign_id: int, sender_id: int | None, work: Work, shares: dict
) -> tuple[bool, dict[str, float]]:
    """Whether this sender serves the pooled campaign now, and which members to pull up.

    The member with the lowest pool pass goes next, unless it is down, full, or
    further behind than it can catch up (`Work.lag_allowed`): then its share
    moves to the others, and its pass is pulled up so it does not claim the
    moved share back in a burst when it heals.
    """
    pool = work.pools.get(campaign_id)
    if pool is None or sender_id is None:
        return True, {}
    mine = shares[(campaign_id, ratelimit.sender_key(sender_id))].pool_pass
    pull: dict[str, float] = {}
    for other, weight in pool.items():
        if other == sender_id or other is None:
            continue
        theirs = shares[(campaign_id, ratelimit.sender_key(other))].pool_pass
        if theirs >= mine:
            continue
        allowed = work.lag_allowed(other, weight)
        if mine - theirs <= allowed:
            return False, {}  # its turn: it will be served by its own queue
        pull[ratelimit.sender_key(other)] = mine - allowed
    return True, pull


def _grant_for_sender(
    sender_id: int | None,
    work: Work,
    worker_id: str,
    now: float,
    limit: int = MAX_GRANT,
    probe: bool = False,
) -> Grant | float | None:
    """A grant for the campaign whose turn it is, or when the sender has a free slot.

    None: nothing to grant now (the campaigns here are another pool member's turn).
    """
    token = f"{worker_id[:30]}:{uuid.uuid4().hex[:16]}"
    queue = ratelimit.sender_key(sender_id)
    campaigns = work.groups[sender_id]
    with ratelimit.locked(queue) as state:
        windows = ratelimit.windows_for(sender_id)
        weights = dict(campaigns)
        queues = {queue}
        for campaign_id in weights:
            queues.update(ratelimit.sender_key(s) for s in work.pools.get(campaign_id, ()))
        shares = _shares(weights, queues)
        pulls: dict[int, dict[str, float]] = {}
        if not probe:  # a probe tries the sender whatever the pool's turn
            for campaign_id in list(weights):
                serve, pulls[campaign_id] = _pool_turn(campaign_id, sender_id, work, shares)
                if not serve:
                    del weights[campaign_id]
            if not weights:
                return None

        # A campaign that was idle (paused, just started) joins at the sender's
        # clock instead of claiming everything it "missed".
        def turn(campaign_id: int) -> tuple[float, float, int]:
            share = shares[(campaign_id, queue)]
            return (max(share.pass_value, state.vtime), share.last_granted_at or 0.0, campaign_id)

        chosen = min(weights, key=turn)
        share = shares[(chosen, queue)]
        if sender_id is None or not windows:  # the outbox has no limits
            count, send_times = limit, None
        else:
            rate = ratelimit.sustained_rate(windows)
            count = max(1, min(limit, math.floor(rate * GRANT_SECONDS / len(campaigns))))
            send_times = ratelimit.reserve(
                sender_id,
                count,
                token,
                campaign_id=chosen,
                now=now,
                until=now + HORIZON,
                windows=windows,
            )
            if not send_times:
                return ratelimit.next_free_at(sender_id, now)
            count = len(send_times)
        start_pass = max(share.pass_value, state.vtime)
        pool_weight = work.pools.get(chosen, {}).get(sender_id, 1)
        CampaignShare.objects.filter(campaign_id=chosen, queue=queue).update(
            pass_value=start_pass + count / weights[chosen],
            pool_pass=F("pool_pass") + count / pool_weight,
            granted=F("granted") + count,
            last_granted_at=now,
        )
        for other, at_least in pulls.get(chosen, {}).items():
            CampaignShare.objects.filter(campaign_id=chosen, queue=other).update(
                pool_pass=Greatest(F("pool_pass"), Value(at_least))
            )
        state.vtime = start_pass
        state.save(update_fields=["vtime"])
    return Grant(
        chosen,
        sender_id,
        count,
        send_times,
        token,
        pool_weight=pool_weight,
        zones=work.zones.get(chosen),
    )


def release(grant: Grant, unused: int) -> None:
    """Give back the part of a grant the worker did not send (fewer rows, a pause).

    Its slots return to the sender, and the campaign's turn is not charged for them.
    """
    if unused < 1:
        return
    unused = min(unused, grant.count)
    if grant.probe and unused == grant.count and grant.sender_id is not None:
        waiting.drop_probe(grant.sender_id)  # the try never happened: another worker may
    if grant.send_times is not None and grant.sender_id is not None:
        with ratelimit.locked(ratelimit.sender_key(grant.sender_id)):
            ratelimit.give_back(grant.token, unused)
        notify()  # workers waiting for this sender's window may use the slots
    _uncharge(grant, unused)


def retime(grant: Grant, start: int, now: float | None = None) -> list[float] | None:
    """Fresh slots for messages `start…` of a grant the worker is late for.

    A message sent well after its slot would crowd the next slots as the server
    sees them, so a worker later than LATE_SECONDS gives the rest of its slots
    back and takes new ones from now. The grant is updated in place (its count
    may shrink when the sender has no room within HORIZON); returns send_times.
    """
    if grant.send_times is None or grant.sender_id is None:
        return grant.send_times
    now = time.time() if now is None else now
    tail = len(grant.send_times) - start
    with ratelimit.locked(ratelimit.sender_key(grant.sender_id)):
        ratelimit.give_back(grant.token, tail)
        fresh = ratelimit.reserve(
            grant.sender_id,
            tail,
            grant.token,
            campaign_id=grant.campaign_id,
            now=now,
            until=now + HORIZON,
        )
    grant.send_times = grant.send_times[:start] + fresh
    grant.count = len(grant.send_times)
    if tail > len(fresh):
        _uncharge(grant, tail - len(fresh))
    return grant.send_times


def _uncharge(grant: Grant, count: int) -> None:
    weight = Campaign.objects.filter(id=grant.campaign_id).values_list("priority", flat=True)
    CampaignShare.objects.filter(
        campaign_id=grant.campaign_id, queue=ratelimit.sender_key(grant.sender_id)
    ).update(
        pass_value=F("pass_value") - count / max(1, weight.first() or 1),
        pool_pass=F("pool_pass") - count / max(1, grant.pool_weight),
        granted=F("granted") - count,
    )


def sleep_until_work(max_seconds: float) -> None:
    """Sleep at near zero cost until notified, the next slot is due, or max_seconds.

    A cheap poll of one row every POLL_SECONDS, so a start, pause or resume in
    any process wakes every worker within about half a second.
    """
    global _next_due
    now = time.time()
    deadline = now + max(0.0, max_seconds)
    if _next_due is not None:
        deadline = min(deadline, max(now, _next_due))
    _next_due = None
    seen = generation()
    while True:
        left = deadline - time.time()
        if left <= 0:
            return
        time.sleep(min(POLL_SECONDS, left))
        if generation() != seen:
            return
