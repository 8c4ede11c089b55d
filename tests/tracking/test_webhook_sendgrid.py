"""SendGrid's signed Event Webhook: ECDSA over timestamp + body, the documented events."""

import base64
import time

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from postroom.tracking.models import Bounce
from tests.tracking.test_bounces import sent, suppression
from tests.tracking.webhooks import nothing_recorded, post, sample

SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"


@pytest.fixture
def key(settings):
    """A key pair like the one SendGrid makes; its public half as the dashboard shows it."""
    private = ec.generate_private_key(ec.SECP256R1())
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    settings.POSTROOM_SENDGRID_PUBLIC_KEY = base64.b64encode(der).decode()
    return private


def signed(private, body: str, timestamp: str | None = None) -> dict[str, str]:
    """Signed as SendGrid documents: ECDSA P-256/SHA-256 of the timestamp then the raw body."""
    timestamp = timestamp or str(int(time.time()))
    signature = private.sign(timestamp.encode() + body.encode(), ec.ECDSA(hashes.SHA256()))
    return {SIGNATURE: base64.b64encode(signature).decode(), TIMESTAMP: timestamp}


def test_the_documented_events_suppress_the_bounced_and_the_complainer(key, client, campaign, ann):
    delivery = sent(campaign, ann)
    body = sample(
        "sendgrid_events", RCPT=ann.email, MESSAGE_ID=delivery.message_id, OTHER="bob@example.com"
    )

    response = post(client, "sendgrid", body, **signed(key, body))

    assert response.status_code == 200, response.content
    assert (response.json()["hard"], response.json()["complaints"]) == (1, 1)
    bounce = Bounce.objects.get(email=ann.email)
    assert (bounce.kind, bounce.status, bounce.delivery_id) == ("hard", "5.0.0", delivery.pk)
    assert bounce.reason == "500 unknown recipient"
    assert suppression(ann.email) == "bounced"
    assert suppression("bob@example.com") == "complained"  # not a subscriber, still suppressed


def test_a_pem_public_key_is_accepted_too(key, settings, client, db):
    settings.POSTROOM_SENDGRID_PUBLIC_KEY = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    body = sample("sendgrid_events", RCPT="c@example.com")

    assert post(client, "sendgrid", body, **signed(key, body)).status_code == 200


@pytest.mark.parametrize("change", ["body", "timestamp", "key", "missing"])
def test_a_forged_request_is_refused_and_records_nothing(key, client, db, change):
    body = sample("sendgrid_events", RCPT="c@example.com")
    headers = signed(key, body)
    if change == "body":
        body = body.replace("c@example.com", "d@example.com")
    elif change == "timestamp":
        headers[TIMESTAMP] = str(int(headers[TIMESTAMP]) + 1)
    elif change == "key":
        headers = signed(ec.generate_private_key(ec.SECP256R1()), body)
    else:
        headers = {}

    assert post(client, "sendgrid", body, **headers).status_code == 403
    assert nothing_recorded()


def test_an_old_signature_is_a_replay(key, client, db):
    body = sample("sendgrid_events", RCPT="c@example.com")
    headers = signed(key, body, timestamp=str(int(time.time()) - 3600))

    response = post(client, "sendgrid", body, **headers)

    assert response.status_code == 403
    assert b"away from now" in response.content


def test_the_endpoint_does_not_exist_without_a_key(client, db, settings):
    settings.POSTROOM_SENDGRID_PUBLIC_KEY = ""

    assert post(client, "sendgrid", "[]").status_code == 404
