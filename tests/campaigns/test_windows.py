"""Send windows on each reader's wall clock: DST nights, half-hour zones, fixed local times,
and the ETA played through the windows; every clock is frozen by passing it."""

from datetime import UTC, date, datetime, time

import pytest

from postroom.campaigns import windows
from postroom.campaigns.windows import SendWindow, instant
from postroom.errors import InvalidInput

BERLIN, KOLKATA, ADELAIDE, NEW_YORK = (
    "Europe/Berlin",
    "Asia/Kolkata",
    "Australia/Adelaide",
    "America/New_York",
)
OFFICE = SendWindow(start=time(9), end=time(17), days=windows.parse_days("mon-fri"))
LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_office_hours_are_open_in_berlin_and_closed_in_new_york_at_the_same_moment():
    now = utc(2026, 12, 3, 10)  # a Thursday: 11:00 in Berlin, 05:00 in New York
    state = OFFICE.state([BERLIN, NEW_YORK], now, LONG_AGO)
    assert state.open == (BERLIN,)
    assert state.next_opening == utc(2026, 12, 3, 14)  # 09:00 EST


def test_a_half_hour_zone_opens_on_its_own_half_hour():
    now = utc(2026, 12, 3, 3)  # 08:30 in Kolkata (+05:30)
    assert OFFICE.opens_at(KOLKATA, now, LONG_AGO) == utc(2026, 12, 3, 3, 30)
    assert OFFICE.opens_at(KOLKATA, utc(2026, 12, 3, 3, 30), LONG_AGO) == utc(2026, 12, 3, 3, 30)
    # 17:00 in Kolkata is 11:30 UTC: closed from then on.
    assert OFFICE.state([KOLKATA], utc(2026, 12, 3, 11, 29), LONG_AGO).open == (KOLKATA,)
    assert OFFICE.state([KOLKATA], utc(2026, 12, 3, 11, 30), LONG_AGO).open == ()


def test_a_half_hour_zone_with_daylight_saving_follows_its_own_change():
    # Adelaide moves from +10:30 to +09:30 on 5 April 2026 (03:00 → 02:00 local).
    before = OFFICE.opens_at(ADELAIDE, utc(2026, 4, 2, 12), LONG_AGO)  # Thursday evening there
    assert before == utc(2026, 4, 2, 22, 30)  # Friday 09:00 +10:30
    after = OFFICE.opens_at(ADELAIDE, utc(2026, 4, 4, 12), LONG_AGO)  # Saturday: next is Monday
    assert after == utc(2026, 4, 5, 23, 30)  # Monday 09:00 +09:30


def test_the_weekend_is_skipped_to_monday_in_the_readers_zone():
    friday_evening = utc(2026, 12, 4, 17)  # 18:00 Friday in Berlin
    assert OFFICE.opens_at(BERLIN, friday_evening, LONG_AGO) == utc(2026, 12, 7, 8)
    # Monday morning in Kolkata is still Sunday evening in UTC.
    assert OFFICE.opens_at(KOLKATA, friday_evening, LONG_AGO) == utc(2026, 12, 7, 3, 30)


def test_a_window_on_the_night_clocks_go_forward_keeps_its_local_hours():
    # Berlin, 29 March 2026: 02:00 CET becomes 03:00 CEST; that Sunday is in the window.
    every_day = SendWindow(start=time(9), end=time(17))
    assert every_day.opens_at(BERLIN, utc(2026, 3, 28, 20), LONG_AGO) == utc(2026, 3, 29, 7)
    assert every_day.intervals(BERLIN, utc(2026, 3, 29), utc(2026, 3, 30), LONG_AGO) == [
        (utc(2026, 3, 29, 7), utc(2026, 3, 29, 15))  # 8 hours, at CEST
    ]


def test_a_start_the_clock_skips_opens_when_the_clock_jumps_past_it():
    night = SendWindow(start=time(2, 30), end=time(4))
    # 02:30 never happens on 29 March in Berlin: the window opens at the jump (01:00 UTC).
    assert night.opens_at(BERLIN, utc(2026, 3, 29, 0), LONG_AGO) == utc(2026, 3, 29, 1)
    assert instant(date(2026, 3, 29), time(2, 30), windows.known_zone(BERLIN)) == utc(
        2026, 3, 29, 1
    )


def test_a_start_the_clock_repeats_opens_at_its_first_occurrence():
    # 25 October 2026 in Berlin: 03:00 CEST becomes 02:00 CET, so 02:30 happens twice.
    night = SendWindow(start=time(2, 30), end=time(5))
    assert night.opens_at(BERLIN, utc(2026, 10, 24, 22), LONG_AGO) == utc(2026, 10, 25, 0, 30)
    (stretch,) = night.intervals(BERLIN, utc(2026, 10, 25), utc(2026, 10, 26), LONG_AGO)
    assert stretch == (utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 4))  # 3.5 h: one hour more


def test_a_fixed_local_time_on_a_date_reaches_each_zone_at_nine_there():
    nine = SendWindow(local_time=time(9), local_date=date(2027, 1, 4))
    started = utc(2027, 1, 3, 12)
    assert nine.opens_at(KOLKATA, started, started) == utc(2027, 1, 4, 3, 30)
    assert nine.opens_at(NEW_YORK, started, started) == utc(2027, 1, 4, 14)
    # Once open it stays open (nobody waits for another day).
    assert nine.state([KOLKATA], utc(2027, 2, 1), started).open == (KOLKATA,)


def test_a_fixed_local_time_already_passed_there_sends_at_once():
    nine = SendWindow(local_time=time(9), local_date=date(2027, 1, 4))
    started = utc(2027, 1, 4, 12)  # 13:00 in Berlin: 09:00 went by
    assert nine.opens_at(BERLIN, started, started) == started


def test_a_fixed_local_time_without_a_date_is_the_first_one_after_the_start():
    nine = SendWindow(local_time=time(9))
    started = utc(2027, 1, 4, 8, 30)  # 09:30 in Berlin, 03:30 in New York
    assert nine.opens_at(BERLIN, started, started) == utc(2027, 1, 5, 8)  # tomorrow
    assert nine.opens_at(NEW_YORK, started, started) == utc(2027, 1, 4, 14)  # today


def test_readers_without_a_zone_or_with_a_wrong_one_follow_the_campaigns_zone():
    window = SendWindow(start=time(9), end=time(17), fallback=NEW_YORK)
    now = utc(2026, 12, 3, 10)  # 05:00 in New York
    assert window.state(["", "Mars/Olympus", "../../etc/passwd"], now, LONG_AGO).open == ()
    assert window.opens_at("not a zone", now, LONG_AGO) == utc(2026, 12, 3, 14)


def test_no_window_is_always_open():
    assert SendWindow().state([BERLIN, ""], utc(2026, 12, 5, 3), LONG_AGO).open == ("", BERLIN)


def test_the_eta_sends_only_within_the_window():
    now = utc(2026, 12, 3, 16, 30)  # Thursday 17:30 in Berlin: closed until Friday 09:00
    # 10 messages a second for 5 hours' worth: Friday 09:00 to 14:00 Berlin time.
    finish = OFFICE.finish({BERLIN: 180_000}, 10.0, now, LONG_AGO)
    assert finish == utc(2026, 12, 4, 13)
    # A day and a half's worth: Friday's 8 hours, the weekend off, then 4 hours on Monday.
    finish = OFFICE.finish({BERLIN: 12 * 3600 * 10}, 10.0, now, LONG_AGO)
    assert finish == utc(2026, 12, 7, 12)


def test_the_eta_shares_the_rate_among_the_open_zones():
    now = utc(2026, 12, 3, 8)  # 09:00 Berlin; New York opens at 14:00 UTC
    # Berlin alone for 6 hours at 1/s: 21,600 of its 30,000. Then both share the rate
    # by what they have left for 2 hours (7,200 of 8,400 + 1,000), Berlin closes, New
    # York sends its last 234 alone, and Berlin's last 1,966 go on Friday at 09:00.
    finish = OFFICE.finish({BERLIN: 30_000, NEW_YORK: 1_000}, 1.0, now, LONG_AGO)
    assert finish is not None
    berlin_left = 8_400 * (1 - 7_200 / 9_400)
    assert abs((finish - utc(2026, 12, 4, 8)).total_seconds() - berlin_left) < 1


def test_the_eta_is_unknown_without_a_rate_or_beyond_the_horizon():
    now = utc(2026, 12, 3, 8)
    assert OFFICE.finish({BERLIN: 10}, 0.0, now, LONG_AGO) is None
    assert OFFICE.finish({BERLIN: 10**9}, 0.01, now, LONG_AGO) is None
    assert OFFICE.finish({}, 1.0, now, LONG_AGO) == now


@pytest.mark.parametrize(
    "text, mask",
    [("mon-fri", 0b0011111), ("sat-sun", 0b1100000), ("mon,wed-fri", 0b0011101), ("sun", 64)],
)
def test_window_days_read_and_write_the_same(text, mask):
    assert windows.parse_days(text) == mask
    assert windows.format_days(mask) == text


def test_window_days_may_be_listed_one_by_one():
    assert windows.parse_days("sat, sun") == windows.parse_days("sat-sun")
    assert windows.day_names(windows.parse_days("mon,fri")) == ["mon", "fri"]


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: windows.parse_hours("17:00-09:00"), "must end after it starts"),
        (lambda: windows.parse_hours("9-17"), "HH:MM"),
        (lambda: windows.parse_hours("09:00"), "START-END"),
        (lambda: windows.parse_days("fri-mon"), "runs backwards"),
        (lambda: windows.parse_days("weekdays"), "names from mon to sun"),
        (lambda: windows.parse_time("25:00"), "HH:MM"),
        (lambda: windows.check(time(9), time(17), 0, None, None, ""), "at least one weekday"),
        (lambda: windows.check(time(9), time(17), 127, time(9), None, ""), "not both"),
        (lambda: windows.check(None, None, 127, None, date(2027, 1, 1), ""), "local time"),
        (lambda: windows.check(None, None, 31, None, None, ""), "go with window hours"),
        (lambda: windows.check(None, None, 127, time(9), None, "Mars/Base"), "not a known"),
    ],
)
def test_bad_windows_are_refused_with_one_clear_line(call, message):
    with pytest.raises(InvalidInput, match=message):
        call()
