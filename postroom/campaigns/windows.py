"""Send windows: when each reader may get a campaign, in the reader's own time zone.

Two kinds, both read on each reader's wall clock:

- **hours**: only between `start` and `end` on the chosen weekdays (09:00-17:00
  Monday to Friday), again every day until everyone has it;
- **a fixed local time**: at `local_time` (on `local_date`, or the first such time
  after the campaign started), so each reader gets it when it is 09:00 where
  they are; a reader whose moment has already passed gets it at once.

Pure: no Django, no database; every answer takes its clock as an argument, so
tests freeze time by passing it. Wall-clock times that a DST change skips (02:30
on a spring-forward night) open at the first instant after the gap; times it
repeats open at their first occurrence. The engine (delivery.sendwindows) asks
which zones are open now and when the next one opens.
"""

import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils.translation import gettext

from postroom.errors import InvalidInput

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
EVERY_DAY = 0b1111111
# A reader's zone as the ledger keeps it (Delivery.zone): IANA names fit easily.
ZONE_LENGTH = 64
# The ETA plays the windows forward at most this far; beyond, it says it does not know.
ETA_HORIZON = timedelta(days=400)


@lru_cache(maxsize=1024)
def known_zone(name: str) -> ZoneInfo | None:
    """The zone called `name`, or None for anything that is not one (attributes are input)."""
    name = (name or "").strip()
    if not name or len(name) > ZONE_LENGTH or ".." in name or name.startswith("/"):
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The first instant (UTC) at which the wall clock in `zone` shows `day` `at` or later."""
    wall = datetime.combine(day, at)
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == wall:
        return first  # it exists; fold=0 is its first occurrence
    # Skipped by a DST change: the clock jumps over it somewhere between the two readings.
    low = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    low, high = min(low, first), max(low, first)
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).replace(tzinfo=None) >= wall:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0)


@dataclass(frozen=True, slots=True)
class SendWindow:
    """A campaign's window; with neither `start` nor `local_time` it is always open."""

    start: time | None = None
    end: time | None = None
    days: int = EVERY_DAY  # bit 0 Monday … bit 6 Sunday
    local_time: time | None = None
    local_date: date | None = None
    # For readers whose zone is missing or not a zone: the campaign's, else the installation's.
    fallback: str = "UTC"

    @property
    def limited(self) -> bool:
        return self.start is not None or self.local_time is not None

    def zone(self, name: str) -> ZoneInfo:
        return known_zone(name) or known_zone(self.fallback) or ZoneInfo("UTC")

    def intervals(
        self, zone_name: str, since: datetime, until: datetime, started: datetime
    ) -> list[tuple[datetime, datetime]]:
        """The open stretches in [since, until) for readers in `zone_name`, in order."""
        if not self.limited:
            return [(since, until)] if since < until else []
        zone = self.zone(zone_name)
        if self.local_time is not None:
            opens = self._local_opening(zone, started)
            return [(max(opens, since), until)] if max(opens, since) < until else []
        assert self.start is not None and self.end is not None  # check() makes it so
        found = []
        day = since.astimezone(zone).date() - timedelta(days=1)
        last = until.astimezone(zone).date()
        while day <= last:
            if self.days >> day.weekday() & 1:
                begin = max(instant(day, self.start, zone), since)
                end = min(instant(day, self.end, zone), until)
                if begin < end:
                    found.append((begin, end))
            day += timedelta(days=1)
        return found

    def _local_opening(self, zone: ZoneInfo, started: datetime) -> datetime:
        assert self.local_time is not None
        if self.local_date is not None:
            return instant(self.local_date, self.local_time, zone)
        day = started.astimezone(zone).date()
        opens = instant(day, self.local_time, zone)
        return (
            opens if opens >= started else instant(day + timedelta(days=1), self.local_time, zone)
        )

    def opens_at(self, zone_name: str, now: datetime, started: datetime) -> datetime | None:
        """`now` if readers in this zone may get it now, else when they may; None: never."""
        # A week and a day always holds an opening of a window with any day chosen.
        found = self.intervals(zone_name, now, now + timedelta(days=8), started)
        return found[0][0] if found else None

    def state(self, zone_names: Iterable[str], now: datetime, started: datetime) -> "WindowState":
        """Which of these zones are open now, and when the first closed one opens."""
        open_now: list[str] = []
        following: datetime | None = None
        for name in zone_names:
            opens = self.opens_at(name, now, started)
            if opens is None:
                continue
            if opens <= now:
                open_now.append(name)
            elif following is None or opens < following:
                following = opens
        return WindowState(tuple(sorted(open_now)), following)

    def finish(
        self, backlogs: dict[str, int], rate: float, now: datetime, started: datetime
    ) -> datetime | None:
        """When `backlogs` ({zone: rows}) are sent at `rate` messages/s within the window.

        The rate is shared by the zones open at each moment in proportion to what
        they have left (the claim takes rows in id order, so they mix). None when
        it would take longer than ETA_HORIZON or the rate is unknown.
        """
        left = {z: float(n) for z, n in backlogs.items() if n > 0}
        if not left:
            return now
        if rate <= 0:
            return None
        clock = now
        while left and clock < now + ETA_HORIZON:
            day_end = clock + timedelta(days=1)
            stretches = {z: self.intervals(z, clock, day_end, started) for z in left}
            edges = sorted(
                {clock, day_end} | {t for s in stretches.values() for pair in s for t in pair}
            )
            for begin, end in itertools.pairwise(edges):
                open_zones = [
                    z for z in left if any(a <= begin and end <= b for a, b in stretches[z])
                ]
                total = sum(left[z] for z in open_zones)
                if not total:
                    continue
                seconds = (end - begin).total_seconds()
                if rate * seconds >= total:
                    for z in open_zones:
                        del left[z]
                    if not left:
                        return begin + timedelta(seconds=total / rate)
                    continue
                share = rate * seconds / total
                for z in open_zones:
                    left[z] -= left[z] * share
            clock = day_end
        return None

    def as_dict(self) -> dict | None:
        """The window as the API and the CLI write it; None without one."""
        if not self.limited:
            return None
        hours = None
        if self.start is not None and self.end is not None:
            hours = f"{self.start:%H:%M}-{self.end:%H:%M}"
        return {
            "hours": hours,
            "days": day_names(self.days),
            "local_time": f"{self.local_time:%H:%M}" if self.local_time else None,
            "local_date": self.local_date.isoformat() if self.local_date else None,
            "timezone": self.fallback,
            "description": self.describe(),
        }

    def describe(self) -> str:
        """One line for pages and the CLI, in English (the UI translates its own)."""
        if self.local_time is not None:
            on = f" on {self.local_date.isoformat()}" if self.local_date else ""
            return f"at {self.local_time:%H:%M}{on} in each reader's time zone"
        if self.start is not None and self.end is not None:
            days = "" if self.days == EVERY_DAY else f", {format_days(self.days)}"
            return f"{self.start:%H:%M}-{self.end:%H:%M}{days} in each reader's time zone"
        return "any time"


@dataclass(frozen=True, slots=True)
class WindowState:
    open: tuple[str, ...]  # the zones whose readers may get it now
    next_opening: datetime | None  # when the first zone not open now opens


# -- reading and checking what people type -----------------------------------------

_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def parse_time(text: str, invalid: str = "") -> time:
    """`09:00` (24-hour HH:MM). `invalid`: the whole refusal naming the time, in the
    reader's language, with `%(text)s` for what was typed."""
    found = _TIME.match((text or "").strip())
    if not found:
        invalid = invalid or gettext(
            "a time is HH:MM on a 24-hour clock (e.g. 09:00), not %(text)s"
        )
        raise InvalidInput(invalid % {"text": repr(text)})
    return time(int(found[1]), int(found[2]))


def parse_hours(text: str) -> tuple[time, time]:
    """`09:00-17:00`: the window's daily hours, ending after they begin."""
    first, sep, second = (text or "").replace("\u2013", "-").partition("-")
    if not sep:
        raise InvalidInput(
            gettext("the window is START-END, e.g. 09:00-17:00, not %(text)s")
            % {"text": repr(text)}
        )
    start = parse_time(
        first, gettext("the window's start is HH:MM on a 24-hour clock (e.g. 09:00), not %(text)s")
    )
    end = parse_time(
        second, gettext("the window's end is HH:MM on a 24-hour clock (e.g. 09:00), not %(text)s")
    )
    check_hours(start, end)
    return start, end


def check_hours(start: time, end: time) -> None:
    if end <= start:
        raise InvalidInput(
            gettext("the window must end after it starts on the same day (%(start)s-%(end)s)")
            % {"start": start.strftime("%H:%M"), "end": end.strftime("%H:%M")}
        )


def parse_days(text: str) -> int:
    """`mon-fri`, `sat,sun`, `mon-wed,fri`: the weekdays as a mask (bit 0 Monday)."""
    mask = 0
    for part in (text or "").lower().replace(" ", "").split(","):
        first, sep, last = part.partition("-")
        if first not in DAYS or (sep and last not in DAYS):
            raise InvalidInput(
                gettext(
                    "window days are names from mon to sun, as ranges or lists (mon-fri, sat,sun), "
                    "not %(text)s"
                )
                % {"text": repr(text)}
            )
        a, b = DAYS.index(first), DAYS.index(last if sep else first)
        if b < a:
            raise InvalidInput(
                gettext("the day range %(part)s runs backwards: write it from mon to sun")
                % {"part": repr(part)}
            )
        for day in range(a, b + 1):
            mask |= 1 << day
    return mask


def format_days(mask: int) -> str:
    """The mask back as text, in ranges: `mon-fri`, `mon,wed-fri`."""
    parts, day = [], 0
    while day < 7:
        if not mask >> day & 1:
            day += 1
            continue
        last = day
        while last + 1 < 7 and mask >> (last + 1) & 1:
            last += 1
        parts.append(DAYS[day] if last == day else f"{DAYS[day]}-{DAYS[last]}")
        day = last + 1
    return ",".join(parts)


def day_names(mask: int) -> list[str]:
    return [name for bit, name in enumerate(DAYS) if mask >> bit & 1]


def check(
    start: time | None,
    end: time | None,
    days: int,
    local_time: time | None,
    local_date: date | None,
    zone_name: str,
) -> None:
    """A window as stored on a campaign: one kind at most, complete, in a real zone."""
    if (start is None) != (end is None):
        raise InvalidInput(gettext("a send window needs both its start and its end"))
    if start is not None and end is not None:
        check_hours(start, end)
    if not isinstance(days, int) or not 0 < days <= EVERY_DAY:
        raise InvalidInput(gettext("a send window needs at least one weekday"))
    if start is not None and local_time is not None:
        raise InvalidInput(gettext("choose window hours or a fixed local time, not both"))
    if local_date is not None and local_time is None:
        raise InvalidInput(gettext("a local date needs the local time to send at"))
    if days != EVERY_DAY and start is None:
        raise InvalidInput(gettext("window days go with window hours (e.g. 09:00-17:00 mon-fri)"))
    if zone_name and known_zone(zone_name) is None:
        raise InvalidInput(
            gettext("%(zone)s is not a known time zone (e.g. Europe/Berlin)")
            % {"zone": repr(zone_name)}
        )


def fields_from_text(
    hours: str | None = None,
    days: str | None = None,
    local_time: str | None = None,
    local_date: str | None = None,
    zone: str | None = None,
) -> dict:
    """The campaign fields of a window as the CLI and the API write it (`09:00-17:00`,
    `mon-fri`, `09:00`, `2027-01-04`, `Europe/Berlin`); empty text: no window."""
    start = end = at = None
    on = None
    if hours:
        start, end = parse_hours(hours)
    if local_time:
        at = parse_time(
            local_time,
            gettext("the local time is HH:MM on a 24-hour clock (e.g. 09:00), not %(text)s"),
        )
    if local_date:
        try:
            on = date.fromisoformat(local_date.strip())
        except ValueError:
            raise InvalidInput(
                gettext("the local date is YYYY-MM-DD, not %(local_date)s")
                % {"local_date": repr(local_date)}
            ) from None
    mask = parse_days(days) if days else EVERY_DAY
    zone_name = (zone or "").strip()
    check(start, end, mask, at, on, zone_name)
    return {
        "window_start": start,
        "window_end": end,
        "window_days": mask,
        "local_time": at,
        "local_date": on,
        "window_timezone": zone_name,
    }
