"""Workers killed at random moments lose nobody and send nobody twice (except in doubt).

After each SIGKILL the test recovers the dead workers' rows itself (as any worker on
this machine would, from their journals) to check the physical bound: rows in doubt
at most one per open SMTP connection of the killed workers.
"""

import random
import signal
import time

import pytest
from django.db import connection

from postroom.campaigns.models import Campaign
from postroom.delivery import control, recovery
from postroom.delivery.models import Delivery
from tests.delivery.helpers import make_audience, make_campaign, smtp_sender
from tests.delivery.processes import RecordingServer, start_worker, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# Enough that work is left at every kill: a worker sends thousands a second.
RECIPIENTS = 10_000
KILLS = 6
CONNECTIONS = 4  # per worker: the most rows one killed worker may leave in doubt


def sent_count(campaign: Campaign) -> int:
    return Delivery.objects.filter(campaign=campaign, state="sent").count()


def work_left(campaign: Campaign) -> bool:
    return Delivery.objects.filter(campaign=campaign, state__in=("pending", "sending")).exists()


def in_doubt_count(campaign: Campaign) -> int:
    return Delivery.objects.filter(campaign=campaign, state="in_doubt").count()


def recover(campaign: Campaign) -> None:
    """What the next worker's maintenance does first: settle the dead workers' rows."""
    recovery.reclaim([campaign.pk])
    assert not Delivery.objects.filter(campaign=campaign, state="sending").exists()


def test_workers_killed_at_random_moments_lose_nobody_and_send_nobody_twice(
    subprocess_env, tmp_path
):
    rng = random.Random()
    workers_at_once = 2 if connection.vendor == "postgresql" else 1
    server = RecordingServer(tmp_path / "received.jsonl")
    started = []  # every worker, killed in the end whatever happens: none outlives the test
    doubts = []  # rows put in doubt by each kill
    try:
        sender = smtp_sender(server, max_connections=CONNECTIONS)
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
            doubt_before = in_doubt_count(campaign)
            recover(campaign)
            doubts.append(in_doubt_count(campaign) - doubt_before)
            assert doubts[-1] <= workers_at_once * CONNECTIONS, f"kill {kill + 1}: {doubts}"
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
    # A SIGKILL of a healthy worker spends no attempt of anyone.
    assert not Delivery.objects.filter(campaign=campaign, attempts__gt=1).exists()
    # The in-doubt window is physical: one final dot per open connection at each kill.
    assert len(in_doubt) == sum(doubts) <= KILLS * workers_at_once * CONNECTIONS
    print(f"in doubt per kill: {doubts}; received {sum(received.values())}")


def test_a_worker_killed_while_the_server_holds_its_replies_leaves_only_those_in_doubt(
    subprocess_env, tmp_path
):
    # Every final dot waits a second for its reply: when the worker dies, each of its
    # connections has exactly one message in that state, the rest of the part none.
    server = RecordingServer(tmp_path / "received.jsonl", "--delay", "DATA=1")
    worker = None
    try:
        sender = smtp_sender(server, max_connections=CONNECTIONS)
        campaign = make_campaign(make_audience(40), sender=sender)
        control.start(campaign)
        worker = start_worker(subprocess_env)
        # All 40 are handed over in one part; kill while the second round is on the wire.
        assert wait_for(lambda: sum(server.received().values()) >= CONNECTIONS, 60)
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        handed = Delivery.objects.filter(campaign=campaign, handed_at__isnull=False).count()
        recover(campaign)
        time.sleep(1.5)  # the server settles what it was holding when the client vanished
        received = server.received()
        rows = dict(Delivery.objects.filter(campaign=campaign).values_list("email", "state"))
        in_doubt = {email for email, state in rows.items() if state == "in_doubt"}
        assert handed == 40  # the database alone would have put all 40 in doubt
        assert 1 <= len(in_doubt) <= CONNECTIONS
        assert all(rows[email] in ("sent", "in_doubt") for email in received), (
            "a message the server received went back to the queue"
        )
        assert all(received[email] <= 1 for email in in_doubt)
        print(f"handed {handed}, in doubt {len(in_doubt)}, received {sum(received.values())}")

        finisher = start_worker(subprocess_env, "--until-idle")
        worker = finisher
        assert finisher.wait(120) == 0, finisher.stderr.read()
    finally:
        if worker is not None and worker.poll() is None:
            worker.kill()
            worker.wait(10)
        server.stop()
    rows = dict(Delivery.objects.filter(campaign=campaign).values_list("email", "state"))
    received = server.received()
    assert set(rows.values()) <= {"sent", "in_doubt"}
    assert {email for email, state in rows.items() if state == "in_doubt"} == in_doubt
    assert all(received[email] == 1 for email, state in rows.items() if state == "sent")
    assert all(received[email] <= 1 for email in in_doubt)
