"""The story Postroom exists for: 2,100 imported contacts, a send stopped half-way, resumed.

A real campaign stopped after 438 of 2,100 and its tool could neither resume
it nor say who had received it. Here the worker is stopped twice — once
politely (SIGTERM, a deploy), once brutally (SIGKILL, a crash) — and started
again; the campaign finishes, and the delivery log says who got it when.
"""

import csv
import io
import json
import signal
import time

import pytest

from postroom.campaigns.models import Campaign
from postroom.delivery.models import Delivery
from tests.data import CONTACTS_2100 as CONTACTS
from tests.delivery.processes import RecordingServer, start_worker, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def sent(campaign_id: int) -> int:
    return Delivery.objects.filter(campaign_id=campaign_id, state="sent").count()


def stop_after(env, campaign_id: int, at_least: int, how: signal.Signals) -> float:
    """Run a worker until `at_least` are sent, stop it with `how`; seconds it took to exit."""
    worker = start_worker(env)
    assert wait_for(lambda: sent(campaign_id) >= at_least, 60), "the worker made no progress"
    asked = time.time()
    worker.send_signal(how)
    worker.wait(30)
    return time.time() - asked


def test_a_stopped_send_resumes_and_reaches_each_contact_exactly_once(
    run_cli, subprocess_env, tmp_path
):
    env = subprocess_env
    assert run_cli("lists", "add", "customers", env=env).returncode == 0
    imported = run_cli("import", str(CONTACTS), "--list", "customers", "--json", env=env)
    assert imported.returncode == 0, imported.stderr
    valid = json.loads(imported.stdout)["created"]
    assert valid > 2000

    # A slow server, so the worker can be stopped after "some hundreds".
    server = RecordingServer(tmp_path / "received.jsonl", "--delay", "DATA=0.004")
    try:
        port = str(server.port)
        run_cli("sender", "add", "provider", "--host", server.host, "--port", port,
                "--tls", "none", "--max-connections", "1", env=env)  # fmt: skip
        body = tmp_path / "news.md"
        body.write_text("Hello {{ subscriber.first_name }}, here is our news.")
        created = run_cli(
            "campaign", "create", "--name", "Newsletter", "--subject", "News for you",
            "--list", "customers", "--body-file", str(body), "--sender", "provider",
            "--from", "news@example.org", "--json", env=env,
        )  # fmt: skip
        assert created.returncode == 0, created.stderr
        cid = json.loads(created.stdout)["id"]
        assert run_cli("campaign", "start", str(cid), "--yes", env=env).returncode == 0

        took = stop_after(env, cid, 438, signal.SIGTERM)
        assert took < 10, f"SIGTERM took {took:.1f} s"
        states = set(Delivery.objects.filter(campaign_id=cid).values_list("state", flat=True))
        assert states <= {"sent", "pending"}, "a clean stop leaves nothing sending or in doubt"
        after_term = sent(cid)
        assert after_term < valid
        assert sorted(server.received().values()) == [1] * after_term

        stop_after(env, cid, after_term + 300, signal.SIGKILL)
        finisher = start_worker(env, "--until-idle")
        assert finisher.wait(180) == 0, finisher.stderr.read()
    finally:
        server.stop()

    assert Campaign.objects.get(pk=cid).status == Campaign.Status.FINISHED
    rows = dict(Delivery.objects.filter(campaign_id=cid).values_list("email", "state"))
    assert len(rows) == valid
    received = server.received()
    in_doubt = {email for email, state in rows.items() if state == "in_doubt"}
    # Each valid contact exactly once; only the few the crash left in doubt (listed for
    # the operator) may have got it once or not at all — never twice.
    assert all(received[email] == 1 for email, state in rows.items() if state == "sent")
    assert all(received[email] <= 1 for email in in_doubt)
    assert set(received) <= set(rows)
    assert len(in_doubt) <= 1  # one SIGKILL, one SMTP connection: at most its one final dot

    exported = run_cli("campaign", "deliveries", str(cid), "--csv", env=env)
    log = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert len(log) == valid
    for line in log:
        if line["state"] == "sent":
            assert line["sent_at"] and line["reply"].startswith("250")
            assert line["sender"] == "provider"
    doubtful = run_cli("campaign", "deliveries", str(cid), "--state", "in_doubt", env=env)
    assert len(doubtful.stdout.splitlines()) == len(in_doubt)
