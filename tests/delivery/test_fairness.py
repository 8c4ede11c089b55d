"""Campaigns sharing a limited sender, measured where it counts: at the SMTP server.

Real `postroom worker` subprocesses (two at once on PostgreSQL, one on SQLite)
send through recording SMTP servers; every message's arrival time is checked
against every window, and each campaign's share against its fair share.
"""

import json
import signal
import time
from collections import Counter

import pytest
from django.db import connection

from postroom.campaigns.models import Campaign
from postroom.delivery import control, ratelimit
from tests.delivery.helpers import make_audience, make_campaign, smtp_sender
from tests.delivery.processes import RecordingServer, start_worker, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

WINDOWS = ["5/second", "12/3 seconds"]
MEASURE_SECONDS = 10.0


def arrivals(server: RecordingServer) -> list[tuple[float, str]]:
    """(arrival time, recipient domain) of every message the server received."""
    rows = []
    if server.record.exists():
        for line in server.record.read_text().splitlines():
            if line.strip():
                message = json.loads(line)
                rows.append((message["time"], message["rcpt_to"][0].rpartition("@")[2]))
    return sorted(rows)


def most_in_any_window(times: list[float], seconds: float) -> int:
    """The most arrivals inside any half-open interval [t, t + seconds)."""
    best, j = 0, 0
    for i, end in enumerate(times):
        while times[j] <= end - seconds:
            j += 1
        best = max(best, i - j + 1)
    return best


def run_campaigns(subprocess_env, tmp_path, priorities: list[int]):
    """Three campaigns on a limited sender, one on an unlimited one, sent by real workers."""
    limited_server = RecordingServer(tmp_path / "limited.jsonl")
    free_server = RecordingServer(tmp_path / "free.jsonl")
    workers = []
    try:
        limited = smtp_sender(limited_server, name="limited")
        ratelimit.set_limits(limited, WINDOWS)
        free = smtp_sender(free_server, name="free")
        shared = []
        for i, priority in enumerate(priorities):
            audience = make_audience(60, f"list{i}", domain=f"c{i}.example.net")
            campaign = make_campaign(audience, limited, name=f"c{i}", priority=priority)
            shared.append(campaign)
        other = make_campaign(make_audience(200, "other", domain="other.example.net"), free)
        for campaign in [*shared, other]:
            control.start(campaign)
        workers = [start_worker(subprocess_env) for _ in range(2 if _postgres() else 1)]

        assert wait_for(lambda: arrivals(limited_server), 60), "nothing sent"
        first = arrivals(limited_server)[0][0]
        assert wait_for(lambda: time.time() > first + MEASURE_SECONDS + 1, 60)
        for campaign in shared:
            control.cancel(campaign, "measured enough")
        for campaign in [*shared, other]:
            campaign.refresh_from_db()
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(30)
        limited_server.stop()
        free_server.stop()
    return arrivals(limited_server), arrivals(free_server), first, other


def _postgres() -> bool:
    return connection.vendor == "postgresql"


def check_windows(received: list[tuple[float, str]]) -> None:
    times = [at for at, _ in received]
    for rate in WINDOWS:
        count, seconds = ratelimit.parse_rate(rate)
        assert most_in_any_window(times, seconds) <= count, f"{rate} exceeded at the server"


def shares_in(received, first: float) -> Counter:
    return Counter(domain for at, domain in received if at < first + MEASURE_SECONDS)


def test_three_campaigns_share_a_limited_sender_fairly_and_no_window_is_exceeded(
    subprocess_env, tmp_path
):
    received, free_received, first, other = run_campaigns(subprocess_env, tmp_path, [1, 1, 1])

    check_windows(received)
    shares = shares_in(received, first)
    total = sum(shares.values())
    # 3.75 messages/s at most (12 per 3 s plus the safety margin): all of it used.
    assert total >= 0.8 * 3.75 * MEASURE_SECONDS
    for i in range(3):
        assert abs(shares[f"c{i}.example.net"] - total / 3) <= 0.1 * total / 3, shares

    # The campaign on the other sender never waited for the limited one.
    assert other.status == Campaign.Status.FINISHED
    assert len(free_received) == 200
    assert free_received[-1][0] - free_received[0][0] < 5.0


def test_priorities_split_a_limited_sender_by_weight(subprocess_env, tmp_path):
    received, _, first, _ = run_campaigns(subprocess_env, tmp_path, [1, 2, 3])

    check_windows(received)
    shares = shares_in(received, first)
    total = sum(shares.values())
    for i, weight in enumerate([1, 2, 3]):
        expected = total * weight / 6
        assert abs(shares[f"c{i}.example.net"] - expected) <= max(1, 0.1 * expected), shares
