"""/health: 200 when sending can happen, 503 with the reasons when not; no secrets in it."""

import json
import subprocess
import sys
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from postroom.campaigns.models import Campaign
from postroom.delivery import control, ledger
from postroom.delivery.models import Sender, Worker
from tests.delivery.helpers import make_audience, make_campaign
from tests.web.test_cli_servers import free_port

pytestmark = pytest.mark.django_db(transaction=True)


def health(client, **headers) -> tuple[int, dict]:
    response = client.get(reverse("health"), **headers)
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    return response.status_code, response.json()


def live_worker() -> str:
    worker_id = ledger.new_worker_id()
    ledger.heartbeat(worker_id)
    return worker_id


def waiting(sender: Sender) -> Sender:
    now = timezone.now()
    Sender.objects.filter(pk=sender.pk).update(
        failing_since=now - timedelta(minutes=4),
        backoff_until=now + timedelta(seconds=20),
        consecutive_failures=5,
        last_error="connection refused",
    )
    sender.refresh_from_db()
    return sender


def relay(name: str) -> Sender:
    return Sender.objects.create(
        name=name,
        host="smtp.internal.example",
        username="mailer",
        password_env="POSTROOM_SMTP_RW",
    )


def test_with_nothing_to_send_it_is_healthy_even_without_a_worker(client):
    status, body = health(client)
    assert status == 200
    assert body["ok"] is True and body["reasons"] == []
    assert body["database"]["ok"] is True
    assert body["database"]["vendor"] in ("sqlite", "postgresql")
    assert body["workers"] == [] and body["senders"] == []
    assert body["pending"] == {
        "running_campaigns_with_work": 0,
        "oldest_open_row": None,
        "due_scheduled_campaigns": 0,
        "oldest_due_at": None,
    }


def test_work_without_a_live_worker_is_a_503_with_the_reason(client):
    campaign = make_campaign(make_audience(3))
    control.start(campaign)
    Worker.objects.create(
        id="gone:1:abc", host="gone", pid=1, last_seen=timezone.now() - timedelta(minutes=2)
    )

    status, body = health(client)

    assert status == 503
    assert body["ok"] is False
    assert body["reasons"] == [
        "no live worker while there is work to send: start `postroom worker`"
    ]
    assert body["workers"][0]["id"] == "gone:1:abc"
    assert body["workers"][0]["alive"] is False
    assert body["workers"][0]["seconds_since_heartbeat"] >= 120
    oldest = body["pending"]["oldest_open_row"]
    assert oldest["campaign_id"] == campaign.pk
    assert oldest["since"] == Campaign.objects.get(pk=campaign.pk).started_at.isoformat()
    assert oldest["age_seconds"] >= 0


def test_work_with_a_live_worker_is_healthy_and_shows_its_heartbeat(client):
    control.start(make_campaign(make_audience(3)))
    worker_id = live_worker()

    status, body = health(client)

    assert status == 200 and body["reasons"] == []
    assert [w["id"] for w in body["workers"]] == [worker_id]
    assert body["workers"][0]["alive"] is True
    assert body["pending"]["running_campaigns_with_work"] == 1


def test_a_due_scheduled_campaign_is_work_too(client):
    campaign = make_campaign(make_audience(2))
    due = timezone.now() - timedelta(minutes=1)
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.SCHEDULED, send_at=due)

    status, body = health(client)

    assert status == 503
    assert body["pending"]["due_scheduled_campaigns"] == 1
    assert body["pending"]["oldest_due_at"] == due.isoformat()
    assert "no live worker" in body["reasons"][0]


def test_every_sender_with_work_waiting_is_a_503_and_shows_each_senders_state(client):
    live_worker()
    first, second = waiting(relay("first")), waiting(relay("second"))
    relay("idle-and-fine")
    control.start(make_campaign(make_audience(2), sender=first))
    control.start(make_campaign(make_audience(2, list_name="b"), sender=second, name="B"))

    status, body = health(client)

    assert status == 503
    assert body["reasons"] == [
        "every sender with pending work is waiting (unreachable): first, second"
    ]
    by_name = {s["name"]: s for s in body["senders"]}
    assert by_name["first"] == {
        "name": "first",
        "state": "waiting",
        "waiting_since": first.failing_since.isoformat(),
        "next_try": first.backoff_until.isoformat(),
        "last_error": "connection refused",
    }
    assert by_name["idle-and-fine"]["state"] == "ok"
    text = json.dumps(body)
    for secret in ("smtp.internal.example", "mailer", "RELAY_PW"):
        assert secret not in text


def test_one_sender_still_working_keeps_it_healthy(client):
    live_worker()
    control.start(make_campaign(make_audience(2), sender=waiting(relay("down"))))
    control.start(make_campaign(make_audience(2, list_name="b"), sender=relay("up"), name="B"))

    status, body = health(client)

    assert status == 200 and body["reasons"] == []
    assert {s["name"]: s["state"] for s in body["senders"]} == {"down": "waiting", "up": "ok"}


def test_the_outbox_never_waits(client):
    live_worker()
    waiting(relay("down"))
    control.start(make_campaign(make_audience(2)))  # no sender: the local outbox

    assert health(client)[0] == 200


def test_it_is_public_by_default_and_only_reads(client):
    assert client.get(reverse("health")).status_code == 200  # nobody logged in
    assert client.head(reverse("health")).status_code == 200
    assert client.post(reverse("health")).status_code == 405


def test_with_a_token_set_it_needs_the_token_in_a_header_or_the_query(client, settings):
    settings.POSTROOM_HEALTH_TOKEN = "s3cret-health"
    url = reverse("health")

    refused = client.get(url)
    assert refused.status_code == 401
    assert refused.json() == {"error": "a valid token is needed"}
    assert refused["WWW-Authenticate"].startswith("Bearer")
    assert client.get(url, HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get(url, {"token": "wrong"}).status_code == 401
    assert client.get(url, HTTP_AUTHORIZATION="Bearer s3cret-health").status_code == 200
    assert client.get(url, {"token": "s3cret-health"}).status_code == 200
    assert "s3cret-health" not in client.get(url, {"token": "s3cret-health"}).content.decode()


PROBE = """
import json, os
os.environ["DJANGO_SETTINGS_MODULE"] = "postroom.settings"
import django
django.setup()
from django.test import Client
response = Client().get("/health", HTTP_HOST="127.0.0.1")
print(json.dumps({"status": response.status_code, "body": response.json()}))
"""


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_an_unreachable_database_is_a_503_that_names_no_host_or_password(
    kind, subprocess_env, tmp_path
):
    if kind == "sqlite":
        folder = tmp_path / "not-a-database-file"
        folder.mkdir()
        url = f"sqlite:///{folder}"
    else:  # nothing listens on that port
        url = f"postgresql://postroom:pw-n0t-shown@127.0.0.1:{free_port()}/postroom"
    env = {**subprocess_env, "DATABASE_URL": url}

    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=60
    )

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["status"] == 503
    body = result["body"]
    assert body["ok"] is False
    assert body["reasons"] == ["the database cannot be reached"]
    assert body["database"]["ok"] is False
    assert body["database"]["vendor"] == kind
    assert body["database"]["error"] == "unreachable (OperationalError)"
    assert "pw-n0t-shown" not in done.stdout and "127.0.0.1" not in done.stdout
