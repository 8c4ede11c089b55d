"""The founding story with the provider's limit: 2,100 contacts at 35 emails an hour."""

import json
import signal
import time
from datetime import datetime

import pytest

from tests.data import CONTACTS_2100
from tests.delivery.processes import RecordingServer, start_worker, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_35_an_hour_sends_one_message_and_says_when_it_will_finish(
    run_cli, subprocess_env, tmp_path
):
    def cli(*args: str) -> str:
        done = run_cli(*args, env=subprocess_env)
        assert done.returncode == 0, done.stderr
        return done.stdout

    server = RecordingServer(tmp_path / "received.jsonl")
    worker = None
    try:
        cli("lists", "add", "customers")
        imported = json.loads(cli("import", str(CONTACTS_2100), "--list", "customers", "--json"))
        cli(
            "sender", "add", "provider", "--host", server.host, "--port", str(server.port),
            "--tls", "none", "--rate", "35/hour",
        )  # fmt: skip
        body = tmp_path / "body.md"
        body.write_text("Hello {{ subscriber.name }}")
        created = cli(
            "campaign", "create", "--name", "Spring", "--subject", "News", "--list", "customers",
            "--body-file", str(body), "--sender", "provider", "--from", "news@postroom.dev",
            "--json",
        )  # fmt: skip
        campaign_id = str(json.loads(created)["id"])
        cli("campaign", "start", campaign_id, "--yes")
        worker = start_worker(subprocess_env)
        assert wait_for(lambda: server.received(), 60), "nothing sent"
        time.sleep(3)  # a burst would show here; the pace is one every ~103 s
        assert sum(server.received().values()) == 1

        status = json.loads(cli("campaign", "status", campaign_id, "--json"))
        left = status["counts"]["pending"]
        assert left == imported["created"] - 1
        hours = (datetime.fromisoformat(status["eta"]).timestamp() - time.time()) / 3600
        assert hours == pytest.approx(left / 35, abs=0.1)  # ~60 hours, with date and time

        sender = json.loads(cli("sender", "status", "--json"))[0]
        assert sender["limits"][0]["rate"] == "35/hour"
        assert sender["limits"][0]["used"] == 1
        assert sender["campaigns"][0]["share"] == 1.0
    finally:
        if worker is not None:
            worker.send_signal(signal.SIGTERM)
            worker.wait(30)
        server.stop()
