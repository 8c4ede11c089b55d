"""A worker SIGKILLed during a burst of 1,000 transactional messages to a real SMTP server:
each is received once, or flagged in doubt within the bound (one per open connection)."""

import signal

import pytest

from postroom.campaigns.models import Campaign
from postroom.delivery import recovery
from postroom.delivery.models import Delivery
from postroom.transactional.models import TxMessage
from tests.delivery.helpers import smtp_sender
from tests.delivery.processes import RecordingServer, start_worker, wait_for
from tests.transactional.helpers import receipt

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

BURST = 1000
KILLS = 3
CONNECTIONS = 4  # the most messages one killed worker may leave in doubt


def sent_count() -> int:
    return Delivery.objects.filter(state="sent").count()


def test_a_worker_killed_during_a_burst_of_receipts_sends_each_once_or_flags_it(
    subprocess_env, tmp_path
):
    server = RecordingServer(tmp_path / "received.jsonl")
    started = []
    doubts = []
    try:
        smtp_sender(server, max_connections=CONNECTIONS)
        worker = None
        # The burst arrives in parts while a worker sends; after some parts it is killed
        # as soon as it has sent some of them, and the next part finds a fresh one.
        for part in range(10):
            if worker is None:
                worker = start_worker(subprocess_env)
                started.append(worker)
            before = sent_count()
            for i in range(part * BURST // 10, (part + 1) * BURST // 10):
                receipt(f"buyer{i}@example.net", idempotency_key=f"order-{i}")
            if part % 3 != 1:
                continue
            assert wait_for(lambda b=before: sent_count() > b, 60), f"no progress in {part}"
            worker.send_signal(signal.SIGKILL)
            worker.wait(10)
            worker = None
            stream = Campaign.objects.get(kind=Campaign.Kind.TRANSACTIONAL)
            doubt_before = Delivery.objects.filter(state="in_doubt").count()
            recovery.reclaim([stream.pk])  # what the next worker does first
            assert not Delivery.objects.filter(state="sending").exists()
            doubts.append(Delivery.objects.filter(state="in_doubt").count() - doubt_before)
            assert doubts[-1] <= CONNECTIONS, f"kill {len(doubts)}: {doubts}"
        assert len(doubts) == KILLS
        finisher = start_worker(subprocess_env, "--until-idle")
        started.append(finisher)
        assert finisher.wait(180) == 0, finisher.stderr.read()
    finally:
        for process in started:
            if process.poll() is None:
                process.kill()
                process.wait(10)
        server.stop()

    rows = dict(Delivery.objects.values_list("email", "state"))
    received = server.received()
    in_doubt = {e for e, state in rows.items() if state == "in_doubt"}
    assert len(rows) == BURST == TxMessage.objects.count()
    assert set(rows.values()) <= {"sent", "in_doubt"}, "every message is final"
    assert all(received[e] == 1 for e, state in rows.items() if state == "sent")
    assert all(received[e] <= 1 for e in in_doubt)
    assert len(in_doubt) == sum(doubts) <= KILLS * CONNECTIONS
    assert not Delivery.objects.filter(attempts__gt=1).exists()  # a kill spends no attempt
    print(f"in doubt per kill: {doubts}; received {sum(received.values())}")
