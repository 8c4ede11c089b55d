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
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence

from django.db import transaction
from django.utils.translation import gettext

from postroom.delivery import wakeup
from postroom.delivery.models import RateLimit, SchedulerState, SendSlot
from postroom.delivery.rates import (
    MAX_COUNT,
    SAFETY_MARGIN,
    UNITS,
    RateLimited,
    Window,
    anchors_from_recent,
    format_rate,
    pacing_gap,
    parse_rate,
    plan_from_history,
    plan_slots,
    sustained_rate,
)
from postroom.errors import InvalidInput

# The pure side is re-exported: callers ask the limiter for rates and plans.
__all__ = [
    "MAX_COUNT",
    "SAFETY_MARGIN",
    "UNITS",
    "RateLimited",
    "Window",
    "acquire_now",
    "anchors_from_recent",
    "drop_slot",
    "format_rate",
    "give_back",
    "locked",
    "next_free_at",
    "pacing_gap",
    "parse_rate",
    "plan_from_history",
    "plan_slots",
    "reserve",
    "sender_key",
    "set_limits",
    "sustained_rate",
    "take_slots",
    "wait_until",
    "windows_for",
]

# -- the database side ---------------------------------------------------------


def sender_key(sender_id: int | None) -> str:
    return "outbox" if sender_id is None else f"sender:{sender_id}"


@contextlib.contextmanager
def locked(key: str) -> Iterator[SchedulerState]:
    """A transaction holding the lock on one shared scheduler row.

    PostgreSQL: `SELECT … FOR UPDATE` on the row. SQLite: the IMMEDIATE
    transaction already holds the database's write lock.
    """
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
            raise InvalidInput(
                gettext("%(count)s/%(seconds)ss is not a rate")
                % {"count": count, "seconds": seconds}
            )
        if seconds in windows and windows[seconds] != count:
            raise InvalidInput(
                gettext("two limits for the same window: %(one)s and %(other)s")
                % {
                    "one": format_rate(windows[seconds], seconds),
                    "other": format_rate(count, seconds),
                }
            )
        windows[seconds] = count
    with locked(sender_key(sender.pk)):
        RateLimit.objects.filter(sender=sender).delete()
        RateLimit.objects.bulk_create(
            RateLimit(sender=sender, count=count, seconds=seconds)
            for seconds, count in sorted(windows.items())
        )
    wakeup.notify()
    return [(count, seconds) for seconds, count in sorted(windows.items())]


def _anchors_from_db(
    sender_id: int, windows: Sequence[Window], n: int, now: float, margin: float
) -> tuple[list[list[float | None]], float | None]:
    """Read only the slots the planner needs: at most `n` per window, and the latest."""
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
                gettext(
                    "the sender's rate limit has no room for %(count)s message(s) within"
                    " %(timeout)s s (the last of them could leave in %(wait)s s); try again later"
                )
                % {"count": n, "timeout": f"{timeout:g}", "wait": f"{times[-1] - now:.0f}"}
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
        SendSlot.objects.filter(token=token).delete()


def wait_until(at: float) -> None:
    """Sleep until epoch time `at` (no-op when it has passed)."""
    delay = at - time.time()
    if delay > 0:
        time.sleep(delay)
