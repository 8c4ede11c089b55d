"""Amazon SES through SNS: signatures checked with the certificate SNS points at, the
subscription handshake, the documented bounce and complaint notifications."""

import base64
import datetime
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from postroom.audience.models import Subscription
from postroom.testing.https import HttpsServer
from postroom.tracking.models import Bounce
from postroom.tracking.providers import ses
from tests.tracking.test_bounces import sent, suppression
from tests.tracking.webhooks import nothing_recorded, post, sample

TOPIC = "arn:aws:sns:us-west-2:123456789012:ses-bounces"


def signing_key() -> tuple[rsa.RSAPrivateKey, bytes]:
    """An RSA key and a certificate for it, as SNS publishes at SigningCertURL."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return key, cert.public_bytes(serialization.Encoding.PEM)


def documented_string_to_sign(message: dict) -> bytes:
    """Written from the SNS developer guide, apart from the code under test: each field's
    name and value on lines of their own, in byte order of the names, Subject only when
    present; a confirmation signs SubscribeURL and Token instead of Subject."""
    if message["Type"] == "Notification":
        names = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
    else:
        names = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
    return "".join(f"{n}\n{message[n]}\n" for n in names if n in message).encode()


class Sns:
    """Signs messages as SNS does, with a certificate served over HTTPS by a test host."""

    def __init__(self, server: HttpsServer, key: rsa.RSAPrivateKey) -> None:
        self.server, self.key = server, key

    def message(self, kind: str = "Notification", version: str = "1", **fields) -> dict:
        message = {
            "Type": kind,
            "MessageId": fields.pop("MessageId", "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324"),
            "TopicArn": TOPIC,
            "Timestamp": "2012-05-02T00:54:06.655Z",
            "SignatureVersion": version,
            "SigningCertURL": self.server.url("/SimpleNotificationService-test.pem"),
            **fields,
        }
        digest = hashes.SHA1() if version == "1" else hashes.SHA256()
        signature = self.key.sign(documented_string_to_sign(message), padding.PKCS1v15(), digest)
        message["Signature"] = base64.b64encode(signature).decode()
        return message

    def notification(self, payload: str, **fields) -> dict:
        return self.message(Message=payload, **fields)


@pytest.fixture
def sns(tmp_path, settings):
    key, pem = signing_key()
    with HttpsServer(tmp_path) as server:
        server.routes["/SimpleNotificationService-test.pem"] = pem
        server.routes["/confirm"] = b"<ConfirmSubscriptionResponse/>"
        settings.POSTROOM_SES_WEBHOOK = True
        settings.POSTROOM_SNS_CERT_HOSTS = ["127.0.0.1"]
        settings.POSTROOM_TLS_CA_FILE = str(server.cert_path)
        settings.POSTROOM_SES_TOPIC_ARNS = []
        ses._certificates.clear()
        yield Sns(server, key)
        ses._certificates.clear()


def test_the_documented_bounce_notification_suppresses_the_address(sns, client, campaign, ann):
    delivery = sent(campaign, ann)
    payload = sample("ses_bounce_with_dsn", RCPT=ann.email, MESSAGE_ID=delivery.message_id)

    response = post(client, "ses", json.dumps(sns.notification(payload)))

    assert response.status_code == 200, response.content
    assert response.json()["hard"] == 1
    bounce = Bounce.objects.get()
    assert (bounce.kind, bounce.status, bounce.source) == ("hard", "5.1.1", "ses")
    assert bounce.delivery_id == delivery.pk  # matched through the Message-ID header
    assert "550 5.1.1" in bounce.reason and '"bounceType": "Permanent"' in bounce.raw
    assert suppression(ann.email) == "bounced"


def test_the_documented_complaint_suppresses_and_unsubscribes_at_once(sns, client, campaign, ann):
    payload = sample("ses_complaint", RCPT=ann.email)

    response = post(client, "ses", json.dumps(sns.notification(payload, version="2")))

    assert response.status_code == 200, response.content
    assert response.json()["complaints"] == 1
    assert suppression(ann.email) == "complained"
    assert set(ann.subscriptions.values_list("status", flat=True)) == {
        Subscription.Status.UNSUBSCRIBED
    }
    assert "AnyCompany Feedback Loop" in Bounce.objects.get().reason


def test_the_subscription_is_confirmed_once_its_signature_holds(sns, client, db):
    confirm = sns.server.url("/confirm?Action=ConfirmSubscription&Token=2336412f37")
    message = sns.message(
        "SubscriptionConfirmation",
        Token="2336412f37",
        SubscribeURL=confirm,
        Message="You have chosen to subscribe to the topic. To confirm, visit the SubscribeURL.",
    )

    response = post(client, "ses", json.dumps(message))

    assert response.status_code == 200, response.content
    assert "/confirm?Action=ConfirmSubscription&Token=2336412f37" in sns.server.requests
    assert nothing_recorded()


def test_a_confirmation_with_a_forged_signature_is_not_followed(sns, client, db):
    confirm = sns.server.url("/confirm?Token=evil")
    message = sns.message("SubscriptionConfirmation", Token="t", SubscribeURL=confirm, Message="m")
    message["Token"] = "changed after signing"

    assert post(client, "ses", json.dumps(message)).status_code == 403
    assert "/confirm?Token=evil" not in sns.server.requests


def test_a_notification_signed_by_another_key_is_refused(sns, client, campaign, ann):
    other, _ = signing_key()
    forger = Sns(sns.server, other)  # the certificate URL still names the real certificate
    message = forger.notification(sample("ses_bounce_with_dsn", RCPT=ann.email))

    response = post(client, "ses", json.dumps(message))

    assert response.status_code == 403
    assert b"does not match" in response.content
    assert nothing_recorded() and suppression(ann.email) is None


def test_a_message_changed_after_signing_is_refused(sns, client, campaign, ann):
    message = sns.notification(sample("ses_bounce_with_dsn", RCPT="someone@example.net"))
    message["Message"] = sample("ses_bounce_with_dsn", RCPT=ann.email)

    assert post(client, "ses", json.dumps(message)).status_code == 403
    assert suppression(ann.email) is None


@pytest.mark.parametrize(
    "url",
    [
        "https://attacker.example/cert.pem",
        "http://127.0.0.1/SimpleNotificationService-test.pem",  # not https
        "https://127.0.0.1.attacker.example/x.pem",
    ],
)
def test_a_certificate_from_a_host_not_allowed_is_never_fetched(sns, client, db, url):
    message = sns.notification(sample("ses_complaint", RCPT="ann@example.com"))
    message["SigningCertURL"] = url

    response = post(client, "ses", json.dumps(message))

    assert response.status_code == 403
    assert b"allowed SNS host" in response.content
    assert sns.server.requests == []


def test_only_the_topics_set_are_accepted(sns, client, db, settings):
    settings.POSTROOM_SES_TOPIC_ARNS = ["arn:aws:sns:us-west-2:123456789012:other"]

    response = post(
        client, "ses", json.dumps(sns.notification(sample("ses_complaint", RCPT="a@b.c")))
    )

    assert response.status_code == 403
    assert nothing_recorded()


def test_the_same_notification_delivered_twice_is_recorded_once(sns, client, campaign, ann):
    body = json.dumps(sns.notification(sample("ses_bounce_with_dsn", RCPT=ann.email)))

    post(client, "ses", body)
    second = post(client, "ses", body)

    assert second.json()["duplicates"] == 1
    assert Bounce.objects.count() == 1


def test_a_body_that_is_not_json_is_a_bad_request(sns, client, db):
    assert post(client, "ses", b"not json").status_code == 400


def test_the_endpoint_does_not_exist_until_switched_on(client, db, settings):
    settings.POSTROOM_SES_WEBHOOK = False

    assert post(client, "ses", "{}").status_code == 404
