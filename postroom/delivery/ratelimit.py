"""Sender rate limits: exact sliding windows kept in the database, paced evenly.

A limited sender has a log of send slots (`SendSlot`). A new slot is placed at
the earliest moment where, counting it, no window holds more than its count,
and never closer to the previous slot than the tightest window's even spacing
(35/hour: one every ~103 s, not 35 at once). Slots are taken under the sender's
lock, so every worker on every machine sees the same log, and a restart never
refills a window. Every message through a limited sender takes a slot:
campaigns through the scheduler's grants, everything else through
`acquire_now`. See docs/rate-limits.md.
"""

import contextlib
import math
import re
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction

from postroom.errors import InvalidInput, PostroomError
from postroom.integers import RANGES

if TYPE_CHECKING:  # the models import this module: only the type checker follows this
    from postroom.delivery.models import SchedulerState

# A slot is placed `SAFETY_MARGIN` seconds beyond where its window would allow,
# so a message that reaches the server a little late (the reservation, the
# worker's wake-up and the SMTP round trips all take time) or a little early
# relative to an earlier one still never overfills a window *as the server
# counts it*. It costs ~20% of a per-second window, nothing visible per hour.
MAX_COUNT = RANGES["PositiveIntegerField"][1]  # RateLimit.count's column
SAFETY_MARGIN = settings.POSTROOM_RATE_MARGIN_MS / 1000

UNITS = {
    "second": 1,
    "minute": 60,
    "hour": 3600,
    "day": 86400,
}
_ALIASES = {
    "s": "second",
    "sec": "second",
    "secs": "second",
    "seconds": "second",
    "m": "minute",
    "min": "minute",
    "mins": "minute",
    "minutes": "minute",
    "h": "hour",
    "hr": "hour",
    "hours": "hour",
    "d": "day",
    "days": "day",
}
_RATE = re.compile(r"^\s*([\d,_]+)\s*/\s*(\d+)?\s*-?\s*([a-z]+)\s*$", re.IGNORECASE)

Window = tuple[int, int]  # (count, seconds)


class RateLimited(PostroomError):
    """A sender's limit does not allow a message within the time asked for."""


def parse_rate(text: str) -> Window:
    """`"35/hour"` → (35, 3600); also `"2,000/day"`, `"12/3 seconds"`, `"10/s"`."""
    match = _RATE.match(text or "")
    if not match:
        raise InvalidInput(
            f"{text!r} is not a rate: write it as N/second, N/minute, N/hour or N/day "
            "(for example 35/hour)"
        )
    raw_count, raw_multiple, raw_unit = match.groups()
    unit = raw_unit.lower()
    unit = _ALIASES.get(unit, unit)
    if unit not in UNITS:
        raise InvalidInput(f"{text!r}: unknown unit {raw_unit!r}; use second, minute, hour or day")
    digits = raw_count.replace(",", "").replace("_", "")
    count = int(digits) if digits.isdigit() else 0
    multiple = int(raw_multiple) if raw_multiple else 1
    if count < 1:
        raise InvalidInput(f"{text!r}: the number of messages must be at least 1")
    if count > MAX_COUNT:
        raise InvalidInput(f"{text!r}: at most {MAX_COUNT:,} messages a window")
    if multiple < 1:
        raise InvalidInput(f"{text!r}: the window must be at least 1 {unit}")
    seconds = multiple * UNITS[unit]
    if seconds > 31 * 86400:
        raise InvalidInput(f"{text!r}: windows longer than 31 days are not supported")
    return count, seconds


def format_rate(count: int, seconds: int) -> str:
    """(35, 3600) → "35/hour"; (12, 3) → "12/3 seconds"."""
    for unit, size in sorted(UNITS.items(), key=lambda item: -item[1]):
        if seconds % size == 0:
            multiple = seconds // size
            return f"{count:,}/{unit}" if multiple == 1 else f"{count:,}/{multiple} {unit}s"
    return f"{count:,}/{seconds} seconds"  # pragma: no cover - every int divides by 1


def pacing_gap(windows: Sequence[Window]) -> float:
    """The even spacing that fits every window: the tightest count/seconds wins."""
    return max((seconds / count for count, seconds in windows), default=0.0)


def sustained_rate(windows: Sequence[Window], margin: float = SAFETY_MARGIN) -> float:
    """Messages per second the windows allow in the long run (inf: no limit)."""
    if not windows:
        return math.inf
    paced = 1 / pacing_gap(windows)
    return min([paced] + [count / (seconds + margin) for count, seconds in windows])


# -- the pure planner (unit-tested with an injected clock) -------------------


def plan_slots(
    windows: Sequence[Window],
    anchors: Sequence[Sequence[float | None]],
    last: float | None,
    n: int,
    now: float,
    until: float = math.inf,
    margin: float = SAFETY_MARGIN,
) -> list[float]:
    """Times for up to `n` new slots, each as early as every window allows.

    `anchors[i][j]` is the slot that would become the oldest one in window i's
    count when new slot j is placed (the count-th most recent), or None when
    the window then holds fewer slots; `last` is the latest slot already taken.
    Slots later than `until` are not planned.
    """
    gap = pacing_gap(windows)
    planned: list[float] = []
    previous = last
    for j in range(n):
        at = now if previous is None else max(now, previous + gap)
        for (count, seconds), anchor in zip(windows, anchors, strict=True):
            ref = anchor[j] if j < len(anchor) else planned[j - count]
            if ref is not None:
                at = max(at, ref + seconds + margin)
        if at > until:
            break
        planned.append(at)
        previous = at
    return planned


def anchors_from_recent(
    recent_desc: Sequence[float], offset: int, count: int, n: int
) -> list[float | None]:
    """Window anchors for `plan_slots` from the slots `offset…` of the newest-first log."""
    size = min(n, count)
    anchors: list[float | None] = [None] * size
    for r, at in enumerate(recent_desc):
        j = count - 1 - offset - r
        if 0 <= j < size:
            anchors[j] = at
    return anchors


def plan_from_history(
    history: Iterable[float],
    windows: Sequence[Window],
    n: int,
    now: float,
    until: float = math.inf,
    margin: float = SAFETY_MARGIN,
) -> list[float]:
    """`plan_slots` over a full list of earlier slots (for tests and reports)."""
    desc = sorted(history, reverse=True)
    anchors = []
    for count, seconds in windows:
        in_window = [at for at in desc if at > now - seconds - margin]
        offset = max(0, count - n)
        anchors.append(anchors_from_recent(in_window[offset:count], offset, count, n))
    return plan_slots(windows, anchors, desc[0] if desc else None, n, now, until, margin)


# -- the database side ---------------------------------------------------------


def sender_key(sender_id: int | None) -> str:
    return "outbox" if sender_id is None else f"sender:{sender_id}"


@contextlib.contextmanager
def locked(key: str) -> Iterator["SchedulerState"]:
    """A transaction holding the lock on one shared scheduler row.

    PostgreSQL: `SELECT … FOR UPDATE` on the row. SQLite: the IMMEDIATE
    transaction already holds the database's write lock.
    """
    from postroom.delivery.models import SchedulerState

    with transaction.atomic():
        state = SchedulerState.objects.select_for_update().filter(key=key).first()
        if state is None:
            SchedulerState.objects.bulk_create([SchedulerState(key=key)], ignore_conflicts=True)
            state = SchedulerState.objects.select_for_update().get(key=key)
        yield state


def windows_for(sender_id: int | None) -> list[Window]:
    """The sender's windows as they are now (re-read every time: edits apply at once)."""
    if sender_id is None:
        return []
    from postroom.delivery.models import RateLimit

    return list(
        RateLimit.objects.filter(sender_id=sender_id)
        .order_by("seconds")
        .values_list("count", "seconds")
    )


def set_limits(sender, rates: Iterable[str | Window]) -> list[Window]:
    """Replace all of a sender's windows at once; an empty list removes its limits.

    Every rate is checked before anything changes. Running campaigns use the
    new windows from their next grant on.
    """
    windows: dict[int, int] = {}
    for rate in rates:
        count, seconds = parse_rate(rate) if isinstance(rate, str) else rate
        if count < 1 or seconds < 1:
            raise InvalidInput(f"{count}/{seconds}s is not a rate")
        if seconds in windows and windows[seconds] != count:
            raise InvalidInput(
                f"two limits for the same window: {format_rate(windows[seconds], seconds)} "
                f"and {format_rate(count, seconds)}"
            )
        windows[seconds] = count
    from postroom.delivery.models import RateLimit

    with locked(sender_key(sender.pk)):
        RateLimit.objects.filter(sender=sender).delete()
        RateLimit.objects.bulk_create(
            RateLimit(sender=sender, count=count, seconds=seconds)
            for seconds, count in sorted(windows.items())
        )
    from postroom.delivery import scheduler

    scheduler.notify()
    return [(count, seconds) for seconds, count in sorted(windows.items())]


def _anchors_from_db(
    sender_id: int, windows: Sequence[Window], n: int, now: float, margin: float
) -> tuple[list[list[float | None]], float | None]:
    """Read only the slots the planner needs: at most `n` per window, and the latest."""
    from postroom.delivery.models import SendSlot

    slots = SendSlot.objects.filter(sender_id=sender_id)
    last = slots.order_by("-at").values_list("at", flat=True).first()
    anchors = []
    for count, seconds in windows:
        offset = max(0, count - n)
        recent = (
            slots.filter(at__gt=now - seconds - margin)
            .order_by("-at")
            .values_list("at", flat=True)[offset:count]
        )
        anchors.append(anchors_from_recent(list(recent), offset, count, n))
    return anchors, last


def reserve(
    sender_id: int,
    n: int,
    token: str,
    *,
    campaign_id: int | None = None,
    now: float | None = None,
    until: float = math.inf,
    windows: Sequence[Window] | None = None,
) -> list[float]:
    """Take up to `n` slots (none later than `until`); call with the sender's lock held.

    Returns their times, earliest first. An empty list means the sender's next
    slot is after `until`; `next_free_at` says when.
    """
    now = time.time() if now is None else now
    windows = windows_for(sender_id) if windows is None else windows
    if not windows or n < 1:
        return []
    anchors, last = _anchors_from_db(sender_id, windows, n, now, SAFETY_MARGIN)
    times = plan_slots(windows, anchors, last, n, now, until)
    _record(sender_id, times, token, campaign_id, windows, now)
    return times


def _record(
    sender_id: int,
    times: list[float],
    token: str | list[str],
    campaign_id: int | None,
    windows: Sequence[Window],
    now: float,
) -> None:
    from postroom.delivery.models import SendSlot

    tokens = [token] * len(times) if isinstance(token, str) else token
    SendSlot.objects.bulk_create(
        SendSlot(sender_id=sender_id, at=at, campaign_id=campaign_id, token=one)
        for at, one in zip(times, tokens, strict=True)
    )
    # Slots older than every window can never matter again.
    horizon = max(seconds for _, seconds in windows) + SAFETY_MARGIN + 60
    SendSlot.objects.filter(sender_id=sender_id, at__lt=now - horizon).delete()


def next_free_at(sender_id: int | None, now: float | None = None) -> float | None:
    """When the sender could take its next message (None: no limits, at once)."""
    now = time.time() if now is None else now
    windows = windows_for(sender_id)
    if sender_id is None or not windows:
        return None
    anchors, last = _anchors_from_db(sender_id, windows, 1, now, SAFETY_MARGIN)
    return plan_slots(windows, anchors, last, 1, now)[0]


def give_back(token: str, unused: int) -> int:
    """Delete the last `unused` slots of a reservation (the ones not sent)."""
    if unused < 1:
        return 0
    from postroom.delivery.models import SendSlot

    ids = list(
        SendSlot.objects.filter(token=token).order_by("-at").values_list("id", flat=True)[:unused]
    )
    return SendSlot.objects.filter(id__in=ids).delete()[0] if ids else 0


def acquire_now(sender_id: int | None, n: int = 1, timeout: float = 30.0) -> list[float]:
    """Take `n` slots for messages outside campaigns (test sends, confirmations).

    They go ahead of the campaigns' next grants. Blocks until the first slot
    is due and returns all the slot times: send message i no earlier than
    `times[i]`. Raises RateLimited, taking nothing, when the last slot would be
    more than `timeout` seconds away. No limit: returns `n` times of now.
    """
    now = time.time()
    windows = windows_for(sender_id)
    if sender_id is None or not windows:
        return [now] * n
    with locked(sender_key(sender_id)):
        anchors, last = _anchors_from_db(sender_id, windows, n, now, SAFETY_MARGIN)
        times = plan_slots(windows, anchors, last, n, now)
        if times[-1] > now + timeout:
            raise RateLimited(
                f"the sender's rate limit has no room for {n} message(s) within {timeout:g} s "
                f"(the last of them could leave in {times[-1] - now:.0f} s); try again later"
            )
        _record(sender_id, times, f"now:{uuid.uuid4().hex}", None, windows, now)
    wait_until(times[0])
    return times


def take_slots(sender_id: int | None, n: int) -> tuple[list[float], list[str]]:
    """Take `n` slots for messages outside campaigns however far away they are.

    Returns their times and one token per slot (to give a single one back). Like
    `acquire_now` they go ahead of the campaigns' next grants; unlike it, it
    never refuses: the caller queues what cannot leave at once. No limit: now.
    """
    now = time.time()
    windows = windows_for(sender_id)
    if not windows or sender_id is None:
        return [now] * n, [""] * n
    base = f"out:{uuid.uuid4().hex}"
    tokens = [f"{base}:{i}" for i in range(n)]
    with locked(sender_key(sender_id)):
        anchors, last = _anchors_from_db(sender_id, windows, n, now, SAFETY_MARGIN)
        times = plan_slots(windows, anchors, last, n, now)
        _record(sender_id, times, tokens, None, windows, now)
    return times, tokens


def drop_slot(token: str) -> None:
    """Give back the slot taken under `token` (a queued message that will use another)."""
    if token:
        from postroom.delivery.models import SendSlot

        SendSlot.objects.filter(token=token).delete()


def wait_until(at: float) -> None:
    """Sleep until epoch time `at` (no-op when it has passed)."""
    delay = at - time.time()
    if delay > 0:
        time.sleep(delay)
