"""Mailgun's webhooks: HMAC-SHA256 of timestamp + token, the documented failed/complained."""

import hashlib
import hmac
import json
import secrets
import time

import pytest

from postroom.tracking.models import Bounce
from tests.tracking.test_bounces import sent, suppression
from tests.tracking.webhooks import nothing_recorded, post, sample

KEY = "key-test-0123456789abcdef"


@pytest.fixture(autouse=True)
def signing_key(settings):
    settings.POSTROOM_MAILGUN_SIGNING_KEY = KEY


def signed(name: str, key: str = KEY, age: int = 0, **values: str) -> str:
    """A documented sample, signed as Mailgun documents: hex HMAC-SHA256 of timestamp+token."""
    timestamp, token = str(int(time.time()) - age), secrets.token_hex(25)
    signature = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    return sample(name, TIMESTAMP=timestamp, TOKEN=token, SIGNATURE=signature, **values)


def test_the_documented_permanent_failure_suppresses_the_address(client, campaign, ann):
    delivery = sent(campaign, ann)

    body = signed("mailgun_failed_permanent", RCPT=ann.email, MESSAGE_ID=delivery.message_id)
    response = post(client, "mailgun", body)

    assert response.status_code == 200, response.content
    bounce = Bounce.objects.get()
    assert (bounce.kind, bounce.delivery_id) == ("hard", delivery.pk)
    assert bounce.reason == "Not delivering to previously bounced address"
    assert bounce.status == ""  # 605 is Mailgun's own code, not an SMTP one
    assert suppression(ann.email) == "bounced"


def test_a_temporary_failure_is_a_soft_bounce(client, campaign, ann):
    body = json.loads(signed("mailgun_failed_permanent", RCPT=ann.email))
    body["event-data"]["severity"] = "temporary"
    body["event-data"]["delivery-status"].update(code=452, description="mailbox full")

    post(client, "mailgun", json.dumps(body))

    assert (Bounce.objects.get().kind, Bounce.objects.get().status) == ("soft", "4.0.0")
    assert suppression(ann.email) is None


def test_the_documented_complaint_suppresses_at_once(client, campaign, ann):
    response = post(client, "mailgun", signed("mailgun_complained", RCPT=ann.email))

    assert response.json()["complaints"] == 1
    assert suppression(ann.email) == "complained"


@pytest.mark.parametrize("forgery", ["wrong key", "changed token", "old", "no signature"])
def test_a_forged_request_is_refused(client, db, forgery):
    body = signed("mailgun_complained", RCPT="c@example.com", key="not-the-key")
    if forgery != "wrong key":
        body = signed(
            "mailgun_complained", RCPT="c@example.com", age=3600 if forgery == "old" else 0
        )
        data = json.loads(body)
        if forgery == "changed token":
            data["signature"]["token"] += "x"
        elif forgery == "no signature":
            del data["signature"]
        body = json.dumps(data)

    assert post(client, "mailgun", body).status_code == 403
    assert nothing_recorded()


def test_a_replayed_request_records_nothing_new(client, campaign, ann):
    body = signed("mailgun_complained", RCPT=ann.email)

    post(client, "mailgun", body)

    assert post(client, "mailgun", body).json()["duplicates"] == 1
    assert Bounce.objects.count() == 1
