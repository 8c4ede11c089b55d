"""Workers killed at random moments lose nobody and send nobody twice (except in doubt)."""

import random
import signal
import time

import pytest
from django.db import connection

from postroom.campaigns.models import Campaign
from postroom.delivery import control
from postroom.delivery.models import Delivery
from postroom.delivery.worker import PART_SIZE, PARTS_IN_FLIGHT
from tests.delivery.helpers import make_audience, make_campaign, smtp_sender
from tests.delivery.processes import RecordingServer, start_worker, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# Enough that work is left at every kill: a worker sends thousands a second, and
# each kill also leaves up to PARTS_IN_FLIGHT * PART_SIZE rows in doubt (not resent).
RECIPIENTS = 10_000
KILLS = 6


def sent_count(campaign: Campaign) -> int:
    return Delivery.objects.filter(campaign=campaign, state="sent").count()


def work_left(campaign: Campaign) -> bool:
    return Delivery.objects.filter(campaign=campaign, state__in=("pending", "sending")).exists()


def test_workers_killed_at_random_moments_lose_nobody_and_send_nobody_twice(
    subprocess_env, tmp_path
):
    rng = random.Random()
    workers_at_once = 2 if connection.vendor == "postgresql" else 1
    server = RecordingServer(tmp_path / "received.jsonl")
    started = []  # every worker, killed in the end whatever happens: none outlives the test
    try:
        sender = smtp_sender(server, max_connections=4)
        campaign = make_campaign(make_audience(RECIPIENTS), sender=sender)
        control.start(campaign)

        for kill in range(KILLS):
            before = sent_count(campaign)
            workers = [start_worker(subprocess_env) for _ in range(workers_at_once)]
            started += workers
            # Kill once the workers are really sending, at a random moment after that.
            assert wait_for(lambda b=before: sent_count(campaign) > b, 60), "no progress"
            time.sleep(rng.uniform(0.0, 0.25))
            for worker in workers:
                worker.send_signal(signal.SIGKILL)
            for worker in workers:
                worker.wait(10)
            assert work_left(campaign), f"nothing left to send after kill {kill + 1}"

        finisher = start_worker(subprocess_env, "--until-idle")
        started.append(finisher)
        assert finisher.wait(180) == 0, finisher.stderr.read()
    finally:
        for process in started:
            if process.poll() is None:
                process.kill()
                process.wait(10)
        server.stop()

    campaign.refresh_from_db()
    rows = dict(Delivery.objects.filter(campaign=campaign).values_list("email", "state"))
    received = server.received()
    in_doubt = {email for email, state in rows.items() if state == "in_doubt"}
    assert campaign.status == Campaign.Status.FINISHED
    assert len(rows) == RECIPIENTS
    assert set(rows.values()) <= {"sent", "in_doubt"}, "every row is final"
    twice = {email for email, n in received.items() if n > 1}
    assert twice <= in_doubt, f"sent twice without being marked in doubt: {sorted(twice)[:5]}"
    missing = {email for email, state in rows.items() if state == "sent" and not received[email]}
    assert not missing, f"marked sent but never received: {sorted(missing)[:5]}"
    # Everyone not in doubt got exactly one message; those in doubt at most one (hold policy).
    assert all(received[email] == 1 for email, state in rows.items() if state == "sent")
    assert all(received[email] <= 1 for email in in_doubt)
    # The in-doubt window is bounded: at most a few parts in flight per kill.
    assert len(in_doubt) <= KILLS * workers_at_once * PARTS_IN_FLIGHT * PART_SIZE
    print(f"in doubt after {KILLS} kills: {len(in_doubt)}; received {sum(received.values())}")
