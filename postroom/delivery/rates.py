"""Rates and the slot planner: pure arithmetic, no database (delivery.ratelimit uses it).

Kept apart so the models (a RateLimit prints itself as "35/hour") and the
limiter both depend on it, and nothing here depends on them. The planner takes
its clock as an argument, so it is unit-tested without sleeping.
"""

import math
import re
from collections.abc import Iterable, Sequence

from django.conf import settings
from django.utils.translation import gettext

from postroom.errors import InvalidInput, PostroomError
from postroom.integers import RANGES

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
            gettext(
                "%(text)s is not a rate: write it as N/second, N/minute, N/hour or N/day"
                " (for example 35/hour)"
            )
            % {"text": repr(text)}
        )
    raw_count, raw_multiple, raw_unit = match.groups()
    unit = raw_unit.lower()
    unit = _ALIASES.get(unit, unit)
    if unit not in UNITS:
        raise InvalidInput(
            gettext("%(text)s: unknown unit %(unit)s; use second, minute, hour or day")
            % {"text": repr(text), "unit": repr(raw_unit)}
        )
    digits = raw_count.replace(",", "").replace("_", "")
    count = int(digits) if digits.isdigit() else 0
    multiple = int(raw_multiple) if raw_multiple else 1
    if count < 1:
        raise InvalidInput(
            gettext("%(text)s: the number of messages must be at least 1") % {"text": repr(text)}
        )
    if count > MAX_COUNT:
        raise InvalidInput(
            gettext("%(text)s: at most %(count)s messages a window")
            % {"text": repr(text), "count": f"{MAX_COUNT:,}"}
        )
    if multiple < 1:
        raise InvalidInput(
            gettext("%(text)s: the window must be at least 1 %(unit)s")
            % {"text": repr(text), "unit": unit}
        )
    seconds = multiple * UNITS[unit]
    if seconds > 31 * 86400:
        raise InvalidInput(
            gettext("%(text)s: windows longer than 31 days are not supported")
            % {"text": repr(text)}
        )
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
