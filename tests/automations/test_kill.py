"""A welcome series of 3 steps for 1,000 joiners, sent by real worker processes that are
SIGKILLed while it runs: each step reaches each person once (counted at a real SMTP
server), or is flagged in doubt within the bound; no step is skipped."""

import json
import signal
from collections import Counter

import pytest

from postroom.automations.models import Enrolment
from postroom.campaigns.models import Campaign
from postroom.delivery import recovery
from postroom.delivery.models import Delivery
from tests.automations.helpers import join, welcome
from tests.delivery.helpers import make_audience, smtp_sender
from tests.delivery.processes import RecordingServer, start_worker, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

PEOPLE = 1000
STEPS = 3
CONNECTIONS = 4  # the most messages one killed worker may leave in doubt
# Sent counts at which a worker is killed: during step 1, step 2 and step 3.
KILL_AT = (300, 1300, 2300)


def sent_count() -> int:
    return Delivery.objects.filter(state="sent").count()


def test_workers_killed_during_a_welcome_series_send_each_step_once_per_person(
    subprocess_env, tmp_path
):
    server = RecordingServer(tmp_path / "received.jsonl")
    started = []
    doubts = []
    try:
        news = make_audience(0)
        automation = welcome(news, smtp_sender(server, max_connections=CONNECTIONS), wait="4s")
        join(news, PEOPLE)
        for target in KILL_AT:
            worker = start_worker(subprocess_env, stderr=(tmp_path / "worker.log").open("a"))
            started.append(worker)
            assert wait_for(lambda t=target: sent_count() >= t, 120), f"stuck before {target}"
            worker.send_signal(signal.SIGKILL)
            worker.wait(10)
            before = Delivery.objects.filter(state="in_doubt").count()
            steps = Campaign.objects.filter(kind=Campaign.Kind.AUTOMATION)
            recovery.reclaim(list(steps.values_list("pk", flat=True)))  # as the next worker
            doubts.append(Delivery.objects.filter(state="in_doubt").count() - before)
            assert doubts[-1] <= CONNECTIONS, f"kill {len(doubts)}: {doubts}"
        finisher = start_worker(subprocess_env, "--until-idle")
        started.append(finisher)
        assert finisher.wait(300) == 0, finisher.stderr.read()
    finally:
        for process in started:
            if process.poll() is None:
                process.kill()
                process.wait(10)
        server.stop()

    received = server.received()
    by_id = Counter(
        json.loads(line)["message_id"].strip("<>")
        for line in (tmp_path / "received.jsonl").read_text().splitlines()
        if line.strip()
    )
    sent_ids = Delivery.objects.filter(state="sent").values_list("message_id", flat=True)
    assert all(by_id[m.strip("<>")] == 1 for m in sent_ids), "each sent step arrived once"
    rows = list(Delivery.objects.values_list("email", "campaign_id", "state"))
    assert len(rows) == PEOPLE * STEPS, "every person took every step: none skipped"
    assert {state for _, _, state in rows} <= {"sent", "in_doubt"}
    per_person: dict[str, int] = {}
    for email, _, state in rows:
        per_person[email] = per_person.get(email, 0) + (state == "sent")
    in_doubt = sum(state == "in_doubt" for _, _, state in rows)
    assert in_doubt == sum(doubts) <= len(KILL_AT) * CONNECTIONS
    # The server counts per address over the three steps: each step at most once.
    assert all(per_person[e] <= received[e] <= STEPS for e in per_person)
    assert sum(received.values()) <= PEOPLE * STEPS
    assert sum(received.values()) >= PEOPLE * STEPS - in_doubt
    assert set(Enrolment.objects.values_list("state", flat=True)) == {"completed"}
    assert Enrolment.objects.filter(automation=automation).count() == PEOPLE
    assert not Delivery.objects.filter(attempts__gt=1).exists()  # a kill spends no attempt
    print(f"in doubt per kill: {doubts}; received {sum(received.values())}")
