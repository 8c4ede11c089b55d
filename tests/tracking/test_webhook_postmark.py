"""Postmark's bounce and spam complaint webhooks, behind a secret in the webhook URL."""

import base64
import json

import pytest

from postroom.tracking.models import Bounce
from tests.tracking.test_bounces import sent, suppression
from tests.tracking.webhooks import nothing_recorded, post, sample

SECRET = "pm-secret-5f2a"


@pytest.fixture(autouse=True)
def token(settings):
    settings.POSTROOM_POSTMARK_WEBHOOK_TOKEN = SECRET


def basic(password: str) -> dict[str, str]:
    """What Postmark sends for https://postroom:PASSWORD@host/webhooks/postmark."""
    return {"Authorization": "Basic " + base64.b64encode(f"postroom:{password}".encode()).decode()}


def test_the_documented_hard_bounce_suppresses_the_address(client, campaign, ann):
    delivery = sent(campaign, ann)
    body = sample("postmark_bounce", RCPT=ann.email, MESSAGE_ID=delivery.message_id)

    response = post(client, "postmark", body, **basic(SECRET))

    assert response.status_code == 200, response.content
    bounce = Bounce.objects.get()
    assert (bounce.kind, bounce.delivery_id, bounce.source) == ("hard", delivery.pk, "postmark")
    assert bounce.reason == "HardBounce: Test bounce details"
    assert suppression(ann.email) == "bounced"


def test_the_documented_spam_complaint_suppresses_at_once(client, campaign, ann):
    response = post(
        client, "postmark", sample("postmark_spam_complaint", RCPT=ann.email), **basic(SECRET)
    )

    assert response.json()["complaints"] == 1
    assert suppression(ann.email) == "complained"


@pytest.mark.parametrize(("kind", "expected"), [("SoftBounce", "soft"), ("AutoResponder", None)])
def test_soft_bounces_are_soft_and_auto_replies_no_bounce(client, campaign, ann, kind, expected):
    body = json.loads(sample("postmark_bounce", RCPT=ann.email))
    body["Type"] = kind

    post(client, "postmark", json.dumps(body), **basic(SECRET))

    assert list(Bounce.objects.values_list("kind", flat=True)) == ([expected] if expected else [])
    assert suppression(ann.email) is None


@pytest.mark.parametrize(
    "headers",
    [{}, basic("wrong"), {"Authorization": "Bearer wrong"}, {"Authorization": "Basic %%%"}],
)
def test_a_request_without_the_secret_is_refused(client, db, headers):
    response = post(client, "postmark", sample("postmark_bounce", RCPT="c@example.com"), **headers)

    assert response.status_code == 403
    assert nothing_recorded()


def test_a_bearer_token_is_accepted_too(client, db):
    body = sample("postmark_bounce", RCPT="c@example.com")

    assert post(client, "postmark", body, Authorization=f"Bearer {SECRET}").status_code == 200
