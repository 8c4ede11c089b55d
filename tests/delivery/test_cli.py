"""The delivery commands exactly as the command-line contract fixes them."""

import csv
import io
import json

import pytest

from postroom.campaigns.models import Campaign
from postroom.delivery.models import Sender
from postroom.testing.smtpserver import CaptureServer
from tests.delivery.helpers import make_audience, make_campaign

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_start_worker_status_and_deliveries_from_the_command_line(run_cli, subprocess_env):
    campaign = make_campaign(make_audience(5))

    refused = run_cli("campaign", "start", str(campaign.pk), env=subprocess_env)
    assert refused.returncode == 1
    assert "--yes" in refused.stderr and "Traceback" not in refused.stderr

    started = run_cli("campaign", "start", str(campaign.pk), "--yes", env=subprocess_env)
    assert started.returncode == 0, started.stderr
    worker = run_cli("worker", "--until-idle", env=subprocess_env)
    assert worker.returncode == 0, worker.stderr

    status = run_cli("campaign", "status", str(campaign.pk), "--json", env=subprocess_env)
    data = json.loads(status.stdout)
    assert {"status", "counts", "rate", "eta"} <= set(data)
    assert set(data["counts"]) == {"pending", "sent", "failed", "skipped", "in_doubt"}
    assert data["status"] == "finished"
    assert data["counts"]["sent"] == 5

    exported = run_cli("campaign", "deliveries", str(campaign.pk), "--csv", env=subprocess_env)
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert sorted(r["email"] for r in rows) == [f"user{i}@example.net" for i in range(5)]
    assert {r["state"] for r in rows} == {"sent"}
    assert all(r["sent_at"] for r in rows)


def test_pause_resume_cancel_and_their_errors(run_cli, subprocess_env):
    campaign = make_campaign(make_audience(3))
    cid = str(campaign.pk)
    assert run_cli("campaign", "pause", cid, env=subprocess_env).returncode == 1  # a draft
    assert run_cli("campaign", "start", cid, "--yes", env=subprocess_env).returncode == 0
    paused = run_cli("campaign", "pause", cid, "--reason", "typo", env=subprocess_env)
    assert paused.returncode == 0, paused.stderr
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.PAUSED and campaign.status_reason == "typo"
    assert run_cli("campaign", "resume", cid, env=subprocess_env).returncode == 0
    cancelled = run_cli("campaign", "cancel", cid, "--yes", "--json", env=subprocess_env)
    assert json.loads(cancelled.stdout)["skipped"] == 3
    missing = run_cli("campaign", "status", "999", env=subprocess_env)
    assert missing.returncode == 1 and "does not exist" in missing.stderr


def test_sender_add_list_and_test_report_the_failing_step(run_cli, subprocess_env):
    with CaptureServer() as server:
        port = str(server.port)
        added = run_cli(
            "sender", "add", "relay", "--host", "127.0.0.1", "--port", port, "--tls", "none",
            "--rate", "10/second", "--rate", "35/hour", "--json", env=subprocess_env,
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
        assert json.loads(added.stdout)["rates"] == ["10/second", "35/hour"]
        ok = run_cli("sender", "test", "relay", env=subprocess_env)
        assert ok.returncode == 0 and ok.stdout.startswith("ok")

    Sender.objects.create(
        name="vault",
        host="127.0.0.1",
        port=1,
        tls="none",
        username="u",
        password_env="POSTROOM_SMTP_NO",
    )
    failed = run_cli("sender", "test", "relay", env=subprocess_env)
    assert failed.returncode == 1 and "connect failed" in failed.stderr
    unset = run_cli("sender", "test", "vault", env=subprocess_env)
    assert unset.returncode == 1 and "POSTROOM_SMTP_NO" in unset.stderr
    listed = json.loads(run_cli("sender", "list", "--json", env=subprocess_env).stdout)
    assert [s["name"] for s in listed] == ["relay", "vault"]
    assert all(
        "password" not in key or key in ("password_env", "password_set")
        for s in listed
        for key in s
    )
    secret = run_cli(
        "sender", "add", "bad", "--host", "h", "--port", "25", "--user", "u",
        "--password-env", "hunter2!", env=subprocess_env,
    )  # fmt: skip
    assert secret.returncode == 1 and "not an environment variable name" in secret.stderr
