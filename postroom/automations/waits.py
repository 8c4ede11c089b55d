"""Time for sequences, without the database: durations, a person's zone, when a wait ends.

Pure functions of their arguments (the clock included), so a test can freeze time
by passing it, as the delivery scheduler's planner does.
"""

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils.translation import gettext

from postroom.errors import InvalidInput

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+)([smhdw])")
# A wait beyond this is surely a typo (and would overflow nothing, but help no one).
MAX_WAIT = 366 * 86400
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
UTC = ZoneInfo("UTC")


def parse_duration(raw: str) -> int:
    """`3d`, `12h`, `1d12h`, `90m`, `45s`, `2w` or a number of seconds → seconds."""
    text = raw.strip().lower().replace(" ", "")
    if text.isdigit():
        seconds = int(text)
    else:
        parts = _PART.findall(text)
        if not parts or "".join(n + u for n, u in parts) != text:
            raise InvalidInput(
                gettext("a wait looks like 3d, 12h, 1d12h, 90m or 45s (w, d, h, m, s), not %(raw)s")
                % {"raw": repr(raw)}
            )
        seconds = sum(int(n) * UNITS[u] for n, u in parts)
    if seconds > MAX_WAIT:
        raise InvalidInput(gettext("a wait is at most 366 days, not %(raw)s") % {"raw": repr(raw)})
    return seconds


def describe_duration(seconds: int) -> str:
    """The shortest readable form: 90000 → `1d1h`."""
    if seconds <= 0:
        return "0"
    out = []
    for unit in ("w", "d", "h", "m", "s"):
        count, seconds = divmod(seconds, UNITS[unit])
        if count:
            out.append(f"{count}{unit}")
    return "".join(out)


def parse_weekdays(raw: str) -> str:
    """`mon,wed,fri` or `0,2,4` (Monday is 0) → the stored `0,2,4`; empty: any day."""
    days: list[int] = []
    for item in (part.strip().lower() for part in raw.split(",")):
        if not item:
            continue
        if item[:3] in WEEKDAYS:
            days.append(WEEKDAYS.index(item[:3]))
        elif item.isdigit() and int(item) < 7:
            days.append(int(item))
        else:
            raise InvalidInput(
                gettext("weekdays are mon…sun or 0…6 (Monday is 0), not %(item)s")
                % {"item": repr(item)}
            )
    return ",".join(str(d) for d in sorted(set(days)))


def zone_of(attributes: dict | None) -> ZoneInfo:
    """The subscriber's `timezone` attribute as a zone; UTC when absent or unknown."""
    name = (attributes or {}).get("timezone")
    if isinstance(name, str) and name.strip():
        try:
            return ZoneInfo(name.strip())
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return UTC


def wait_ends(
    start: datetime, seconds: int, weekdays: str, at: time | None, zone: ZoneInfo
) -> datetime:
    """When a wait begun at `start` ends: `seconds` later, then (with `at`) the first of the
    `weekdays` (all days when empty) at local time `at` in `zone` from then on."""
    end = start + timedelta(seconds=seconds)
    if at is None:
        return end
    allowed = {int(d) for d in weekdays.split(",") if d != ""} or set(range(7))
    local = end.astimezone(zone)
    for offset in range(8):
        day = local.date() + timedelta(days=offset)
        if day.weekday() not in allowed:
            continue
        moment = datetime.combine(day, at, zone)
        if moment >= local:
            return moment.astimezone(UTC)
    raise AssertionError("a week always holds one allowed day")  # pragma: no cover


def month_day(value: object) -> tuple[int, int] | None:
    """(month, day) of `YYYY-MM-DD` or `MM-DD` (a birthday, an anniversary); None if neither."""
    if not isinstance(value, str):
        return None
    text = value.strip()[:10]
    for pattern in ("%Y-%m-%d", "%m-%d"):
        try:
            parsed = datetime.strptime(text if pattern != "%m-%d" else f"2000-{text}", "%Y-%m-%d")
        except ValueError:
            continue
        if pattern == "%Y-%m-%d" and len(text) != 10:
            continue
        return parsed.month, parsed.day
    return None


def yearly_moments(
    value: object, zone: ZoneInfo, hour: int, after: datetime, until: datetime
) -> list[datetime]:
    """The moments in (after, until] a yearly date reaches local `hour` in `zone`, oldest
    first (one per year; 29 February is kept on the 28th in other years)."""
    found = month_day(value)
    if found is None or until <= after:
        return []
    month, dom = found
    moments = []
    for year in range(after.astimezone(zone).year, until.astimezone(zone).year + 1):
        day = date(year, month, 28 if (month, dom) == (2, 29) and not _leap(year) else dom)
        moment = datetime.combine(day, time(hour), zone)
        if after < moment <= until:
            moments.append(moment)
    return moments


def suffixes_between(after: datetime, until: datetime) -> list[str] | None:
    """The `MM-DD` endings a yearly date may have to reach its moment somewhere on Earth
    between `after` and `until` (local dates run from the day before UTC's to the day
    after); None when that is every day of the year."""
    first = (after.astimezone(UTC) - timedelta(days=1)).date()
    last = (until.astimezone(UTC) + timedelta(days=1)).date()
    if (last - first).days >= 366:
        return None
    found: list[str] = []
    day = first
    while day <= last:
        found.append(f"{day.month:02d}-{day.day:02d}")
        if (day.month, day.day) == (2, 28) and not _leap(day.year):
            found.append("02-29")
        day += timedelta(days=1)
    return found


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
