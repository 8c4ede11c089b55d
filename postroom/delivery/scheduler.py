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
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db.models import F, Q

from postroom.delivery import ratelimit, waiting

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
# Sleeping workers look at the wake-up generation this often.
POLL_SECONDS = 0.5

# Per process: where the round-robin over senders resumes, and when the
# earliest skipped sender will have a free slot (sleep_until_work wakes then).
_sender_cursor: int = -1
_next_due: float | None = None
# Per process: sender id → (its next free slot, the generation when that was seen).
_full_until: dict[int | None, tuple[float, int]] = {}


@dataclass
class Grant:
    """Permission to claim up to `count` recipients of one campaign now."""

    campaign_id: int
    sender_id: int | None
    count: int
    # Epoch seconds before which each message must not be sent; None = at once.
    send_times: list[float] | None
    token: str
    # A try of a sender that cannot be reached (delivery.waiting): few recipients,
    # and this worker alone may send to it until the try is recorded.
    probe: bool = False


def _work_by_sender(now: float) -> dict[int | None, list[tuple[int, int]]]:
    """Running campaigns that have recipients to send now, by sender: (id, weight)."""
    from postroom.campaigns.models import Campaign
    from postroom.delivery.models import Delivery

    due = datetime.fromtimestamp(now, tz=UTC)
    running = Campaign.objects.filter(status=Campaign.Status.RUNNING).values_list(
        "id", "sender_id", "priority"
    )
    groups: dict[int | None, list[tuple[int, int]]] = {}
    for campaign_id, sender_id, priority in running:
        # One indexed EXISTS per running campaign (there are few) stays cheap
        # however large the ledger; a DISTINCT over it would not.
        has_work = Delivery.objects.filter(
            Q(state=Delivery.State.PENDING)
            | Q(state=Delivery.State.RETRY, next_attempt_at__lte=due),
            campaign_id=campaign_id,
        ).exists()
        if has_work:
            groups.setdefault(sender_id, []).append((campaign_id, max(1, priority or 1)))
    return groups


def next_grant(worker_id: str, now: float | None = None) -> Grant | None:
    """The next grant for this worker, or None when no sender can send within HORIZON."""
    global _sender_cursor, _next_due
    now = time.time() if now is None else now
    groups = _work_by_sender(now)
    # Round-robin over senders (None sorts first as -1), starting after the last one served.
    order = sorted(groups, key=_key)
    earliest: float | None = None
    # A sender that cannot be reached gets no grants (delivery.waiting): its campaigns
    # wait without taking slots, and the others go on. When its next try is due, one
    # worker wins it and gets a small grant; the others look again later.
    for waiting_id, (next_try, due) in waiting.blocked(
        [s for s in order if s is not None], now
    ).items():
        order.remove(waiting_id)
        if due and waiting.claim_probe(waiting_id, now):
            result = _grant_for_sender(
                waiting_id, groups[waiting_id], worker_id, now, limit=waiting.PROBE_SIZE
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
        result = _grant_for_sender(sender_id, groups[sender_id], worker_id, now)
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


def _grant_for_sender(
    sender_id: int | None,
    campaigns: list[tuple[int, int]],
    worker_id: str,
    now: float,
    limit: int = MAX_GRANT,
) -> Grant | float | None:
    """A grant for the campaign whose turn it is, or when the sender has a free slot."""
    from postroom.delivery.models import CampaignShare

    token = f"{worker_id[:30]}:{uuid.uuid4().hex[:16]}"
    with ratelimit.locked(ratelimit.sender_key(sender_id)) as state:
        windows = ratelimit.windows_for(sender_id)
        weights = dict(campaigns)
        shares = {s.campaign_id: s for s in CampaignShare.objects.filter(campaign_id__in=weights)}
        missing = [CampaignShare(campaign_id=c, pass_value=state.vtime) for c in weights]
        missing = [s for s in missing if s.campaign_id not in shares]
        if missing:
            CampaignShare.objects.bulk_create(missing, ignore_conflicts=True)
            shares.update({s.campaign_id: s for s in missing})

        # A campaign that was idle (paused, just started) joins at the sender's
        # clock instead of claiming everything it "missed".
        def turn(campaign_id: int) -> tuple[float, float, int]:
            share = shares[campaign_id]
            return (max(share.pass_value, state.vtime), share.last_granted_at or 0.0, campaign_id)

        chosen = min(weights, key=turn)
        share = shares[chosen]
        if sender_id is None or not windows:  # the outbox has no limits
            count, send_times = limit, None
        else:
            rate = ratelimit.sustained_rate(windows)
            count = max(1, min(limit, math.floor(rate * GRANT_SECONDS / len(weights))))
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
        CampaignShare.objects.filter(campaign_id=chosen).update(
            pass_value=start_pass + count / weights[chosen],
            granted=F("granted") + count,
            last_granted_at=now,
        )
        state.vtime = start_pass
        state.save(update_fields=["vtime"])
    return Grant(chosen, sender_id, count, send_times, token)


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
    _uncharge(grant.campaign_id, unused)


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
        _uncharge(grant.campaign_id, tail - len(fresh))
    return grant.send_times


def _uncharge(campaign_id: int, count: int) -> None:
    from postroom.campaigns.models import Campaign
    from postroom.delivery.models import CampaignShare

    weight = Campaign.objects.filter(id=campaign_id).values_list("priority", flat=True).first()
    CampaignShare.objects.filter(campaign_id=campaign_id).update(
        pass_value=F("pass_value") - count / max(1, weight or 1), granted=F("granted") - count
    )


def generation() -> int:
    from postroom.delivery.models import SchedulerState

    value = SchedulerState.objects.filter(key="generation").values_list("generation", flat=True)
    return value.first() or 0


def notify() -> None:
    """Wake sleeping workers: a campaign was started, paused, resumed or cancelled."""
    from postroom.delivery.models import SchedulerState

    bumped = SchedulerState.objects.filter(key="generation").update(generation=F("generation") + 1)
    if not bumped:
        SchedulerState.objects.bulk_create(
            [SchedulerState(key="generation", generation=1)], ignore_conflicts=True
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
