"""Sliding windows and pacing: the pure planner with an injected clock, then the database log."""

import itertools

import pytest

from postroom.delivery import ratelimit
from postroom.delivery.models import RateLimit, Sender, SendSlot
from postroom.delivery.ratelimit import (
    SAFETY_MARGIN,
    RateLimited,
    format_rate,
    parse_rate,
    plan_from_history,
)
from postroom.errors import InvalidInput


def most_in_any_window(times: list[float], seconds: float) -> int:
    """The largest number of times inside any closed interval `seconds` long."""
    times = sorted(times)
    best, j = 0, 0
    for i, start in enumerate(times):
        while times[j] < start - seconds:
            j += 1
        best = max(best, i - j + 1)
    return best


@pytest.mark.parametrize(
    "text, expected",
    [
        ("35/hour", (35, 3600)),
        ("10/second", (10, 1)),
        ("2,000/day", (2000, 86400)),
        (" 5 / minute ", (5, 60)),
        ("12/3 seconds", (12, 3)),
        ("12/3s", (12, 3)),
        ("100/h", (100, 3600)),
    ],
)
def test_it_parses_rates(text, expected):
    assert parse_rate(text) == expected


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("35", "N/second"),
        ("35/fortnight", "unknown unit"),
        ("0/hour", "at least 1"),
        ("-3/hour", "N/second"),
        ("ten/second", "N/second"),
        ("5/0 seconds", "at least 1"),
        ("", "N/second"),
    ],
)
def test_it_refuses_bad_rates_with_a_reason(text, fragment):
    with pytest.raises(InvalidInput, match=fragment):
        parse_rate(text)


def test_it_formats_rates_the_way_they_are_written():
    assert format_rate(35, 3600) == "35/hour"
    assert format_rate(2000, 86400) == "2,000/day"
    assert format_rate(12, 3) == "12/3 seconds"


def test_it_paces_35_an_hour_one_every_103_seconds():
    times = plan_from_history([], [(35, 3600)], 5, now=1000.0)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert times[0] == 1000.0
    assert all(abs(gap - 3600 / 35) < 1e-6 for gap in gaps)


def test_it_waits_for_the_oldest_slot_to_leave_the_window():
    history = [100.0, 100.2, 100.4, 100.6, 100.8]  # 5/second used up
    times = plan_from_history(history, [(5, 1)], 1, now=100.9)
    assert times == [pytest.approx(101.0 + SAFETY_MARGIN)]


def test_a_restart_does_not_refill_a_window():
    # 35 slots over the last hour: the 36th must wait for the first to age out,
    # whatever the process that asks.
    history = [i * (3600 / 35) for i in range(35)]
    now = history[-1] + 1
    times = plan_from_history(history, [(35, 3600)], 1, now=now)
    assert times[0] >= history[0] + 3600


def test_no_window_of_any_size_is_exceeded_across_many_grants():
    windows = [(5, 1), (12, 3)]
    history: list[float] = []
    now = 0.0
    for step in range(60):
        history += plan_from_history(history, windows, 3, now=now, until=now + 2)
        now += 0.37 if step % 7 else 2.5  # irregular callers, idle gaps
    assert len(history) > 80
    for count, seconds in windows:
        assert most_in_any_window(history, seconds + SAFETY_MARGIN * 0.99) <= count


def test_it_plans_nothing_beyond_the_horizon():
    history = [float(i) for i in range(10)]
    assert plan_from_history(history, [(10, 60)], 3, now=10.0, until=12.0) == []


def test_it_takes_the_tightest_window_for_pacing():
    assert ratelimit.pacing_gap([(10, 1), (2000, 86400)]) == pytest.approx(43.2)
    rate = ratelimit.sustained_rate([(35, 3600)])
    assert 2100 / rate / 3600 == pytest.approx(60, rel=0.001)


@pytest.fixture
def sender(db):
    return Sender.objects.create(name="provider", host="smtp.example.net")


def test_set_limits_replaces_all_windows(sender):
    ratelimit.set_limits(sender, ["10/second", "35/hour"])
    ratelimit.set_limits(sender, ["20/minute"])
    assert ratelimit.windows_for(sender.pk) == [(20, 60)]


def test_set_limits_changes_nothing_when_one_rate_is_bad(sender):
    ratelimit.set_limits(sender, ["10/second"])
    with pytest.raises(InvalidInput):
        ratelimit.set_limits(sender, ["35/hour", "lots/day"])
    assert list(RateLimit.objects.values_list("count", "seconds")) == [(10, 1)]


def test_set_limits_refuses_two_counts_for_one_window(sender):
    with pytest.raises(InvalidInput, match="same window"):
        ratelimit.set_limits(sender, ["35/hour", "40/60 minutes"])


def test_reservations_from_different_callers_share_one_log(sender):
    ratelimit.set_limits(sender, ["5/second"])
    taken = []
    for token in ("worker-a", "worker-b", "worker-a"):
        with ratelimit.locked(ratelimit.sender_key(sender.pk)):
            taken += ratelimit.reserve(sender.pk, 5, token, now=1000.0, until=1004.0)
    assert len(taken) == 15
    assert taken == sorted(taken)
    assert most_in_any_window(taken, 1 + SAFETY_MARGIN * 0.99) <= 5


def test_giving_back_deletes_the_last_unused_slots(sender):
    ratelimit.set_limits(sender, ["5/second"])
    with ratelimit.locked(ratelimit.sender_key(sender.pk)):
        times = ratelimit.reserve(sender.pk, 5, "grant-1", now=1000.0)
    assert ratelimit.give_back("grant-1", 2) == 2
    left = sorted(SendSlot.objects.filter(token="grant-1").values_list("at", flat=True))
    assert left == times[:3]


def test_old_slots_are_pruned(sender):
    ratelimit.set_limits(sender, ["5/second"])
    with ratelimit.locked(ratelimit.sender_key(sender.pk)):
        ratelimit.reserve(sender.pk, 5, "old", now=1000.0)
        ratelimit.reserve(sender.pk, 1, "new", now=5000.0)
    assert list(SendSlot.objects.values_list("token", flat=True)) == ["new"]


def test_a_sender_without_limits_records_nothing(sender):
    with ratelimit.locked(ratelimit.sender_key(sender.pk)):
        assert ratelimit.reserve(sender.pk, 5, "t", now=1000.0) == []
    assert ratelimit.next_free_at(sender.pk) is None
    assert not SendSlot.objects.exists()


def test_acquire_now_counts_against_the_same_windows(sender):
    ratelimit.set_limits(sender, ["2/hour"])
    first = ratelimit.acquire_now(sender.pk, 1, timeout=5)
    assert len(first) == 1
    with pytest.raises(RateLimited, match="try again later"):
        ratelimit.acquire_now(sender.pk, 1, timeout=5)
    # The refusal took nothing; a campaign's next slot comes after the test send.
    assert SendSlot.objects.count() == 1
    assert ratelimit.next_free_at(sender.pk) >= first[0] + 1800


def test_acquire_now_without_limits_returns_at_once(sender):
    assert len(ratelimit.acquire_now(sender.pk, 3, timeout=0)) == 3
