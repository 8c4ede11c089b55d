"""Real `postroom worker` processes: their side thread carries out sign-ups and sends webhooks,
and an endpoint that never answers does not hold a campaign back."""

import json

import pytest

from postroom.audience import services as audience
from postroom.audience.models import Subscriber
from postroom.campaigns.models import Campaign
from postroom.delivery import control
from postroom.delivery.models import OutboxMessage
from postroom.testing.smtpserver import CaptureServer
from postroom.webhooks import services
from postroom.webhooks.events import emit
from postroom.webhooks.models import WebhookDelivery
from tests.delivery.helpers import make_audience, make_campaign, smtp_sender
from tests.delivery.processes import start_worker, wait_for
from tests.signups.helpers import post_json
from tests.webhooks.receiver import Receiver

pytestmark = pytest.mark.slow


def stop(worker) -> None:
    worker.terminate()
    worker.wait(30)


def test_a_worker_carries_out_a_sign_up_and_tells_the_webhook(client, subprocess_env):
    digest = audience.create_list("Digest", optin="double", public=True)
    with Receiver() as receiver:
        services.create_endpoint("crm", receiver.url, ["subscriber.created"])
        response = post_json(client, {"email": "zoe@example.com", "lists": [str(digest.uuid)]})
        assert response.status_code == 200
        assert not Subscriber.objects.exists()
        worker = start_worker(subprocess_env)
        try:
            received = receiver.wait_for(1, timeout=60)
            assert wait_for(OutboxMessage.objects.exists, 30)
        finally:
            stop(worker)
    event = received[0].json
    assert event["type"] == "subscriber.created"
    assert event["data"]["subscriber"]["email"] == "zoe@example.com"
    confirmation = OutboxMessage.objects.get()
    assert b"Confirm your subscription to Digest" in bytes(confirmation.data)
    assert WebhookDelivery.objects.get().state == "delivered"


def test_an_endpoint_that_never_answers_does_not_hold_a_campaign_back(subprocess_env):
    recipients = 60
    env = {**subprocess_env, "POSTROOM_WEBHOOK_TIMEOUT_SECONDS": "3"}
    server = CaptureServer()
    server.start()
    with Receiver(["hang"] * 100, hang_seconds=30) as dead:
        services.create_endpoint("dead", dead.url, ["import.finished"])
        for n in range(20):
            emit("import.finished", {"id": n})
        campaign = make_campaign(make_audience(recipients), sender=smtp_sender(server))
        control.start(campaign)
        worker = start_worker(env)
        try:
            assert wait_for(lambda: len(dead.received) >= 1, 60), "the side thread never ran"
            finished = wait_for(
                lambda: Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.FINISHED,
                120,
            )
            tried = WebhookDelivery.objects.filter(attempts__gt=0).count()
        finally:
            stop(worker)
            server.stop()
    assert finished
    assert len({m.rcpt_to[0] for m in server.messages}) == recipients
    # Each POST to the dead endpoint takes its whole 3 s timeout, one per pass; the campaign
    # finished meanwhile, with most of those 20 deliveries not even tried yet.
    assert tried < 20, tried
    pending = WebhookDelivery.objects.filter(state="pending").count()
    assert pending == 20
    print(f"campaign of {recipients} finished with {tried} of 20 dead-endpoint POSTs tried")
    assert json.loads(WebhookDelivery.objects.first().body)["type"] == "import.finished"
