"""Amazon SES bounces and complaints, delivered by Amazon SNS to an HTTPS subscription.

Every SNS message is signed: the signature (RSA, SHA1 for SignatureVersion 1, SHA256
for 2) covers a fixed list of its fields, and the public key is in the certificate
at SigningCertURL. That URL is only trusted over HTTPS from a host matching
POSTROOM_SNS_CERT_HOSTS (sns.<region>.amazonaws.com by default), so a forger cannot
point us at a certificate of their own; the TLS connection checks the host's chain.
With POSTROOM_SES_TOPIC_ARNS set, other topics are refused too. A subscription is
confirmed by fetching its SubscribeURL once the confirmation's signature holds (the
handshake SNS needs before it delivers anything).
"""

import base64
import binascii
import datetime
import fnmatch
import logging
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.conf import settings
from django.utils.translation import gettext

from postroom.errors import InvalidInput
from postroom.tracking.bounces import COMPLAINT, HARD, SOFT, Report
from postroom.tracking.providers.base import Event, Forged, Headers, json_body, pretty
from postroom.tracking.tls import tls_context

log = logging.getLogger(__name__)

NAME = "ses"
TIMEOUT_SECONDS = 10
# The fields each message type signs, in this order (the SNS developer guide).
SIGNED_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type",
    ),
}  # fmt: skip
SIGNED_FIELDS["UnsubscribeConfirmation"] = SIGNED_FIELDS["SubscriptionConfirmation"]
HASHES = {"1": hashes.SHA1, "2": hashes.SHA256}
_certificates: dict[str, x509.Certificate] = {}  # per process: SNS certificates live for years


def enabled() -> bool:
    return bool(settings.POSTROOM_SES_WEBHOOK)


def string_to_sign(message: dict[str, Any]) -> bytes:
    fields = SIGNED_FIELDS.get(str(message.get("Type")))
    if fields is None:
        raise InvalidInput(
            gettext("not an SNS message type: %(type)s") % {"type": repr(message.get("Type"))}
        )
    text = "".join(f"{name}\n{message[name]}\n" for name in fields if message.get(name) is not None)
    return text.encode("utf-8")


def _trusted_url(url: str, what: str) -> str:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" or not any(
        fnmatch.fnmatchcase(host, pattern) for pattern in settings.POSTROOM_SNS_CERT_HOSTS
    ):
        raise Forged(
            gettext("%(what)s is not an https URL of an allowed SNS host: %(url)s")
            % {"what": what, "url": url[:200]}
        )
    return url


def _fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS, context=tls_context()) as reply:
        return reply.read(1_000_000)


def certificate(url: str) -> x509.Certificate:
    found = _certificates.get(url)
    if found is None:
        if not url.endswith(".pem"):
            raise Forged(gettext("the signing certificate URL does not name a .pem file"))
        try:
            found = x509.load_pem_x509_certificate(
                _fetch(_trusted_url(url, gettext("the signing certificate")))
            )
        except (OSError, ValueError) as exc:
            raise Forged(
                gettext("the signing certificate could not be read: %(exc)s") % {"exc": exc}
            ) from None
        _certificates[url] = found
    now = datetime.datetime.now(datetime.UTC)
    if not found.not_valid_before_utc <= now <= found.not_valid_after_utc:
        _certificates.pop(url, None)
        raise Forged(gettext("the signing certificate has expired or is not valid yet"))
    return found


def verify(message: dict[str, Any]) -> None:
    algorithm = HASHES.get(str(message.get("SignatureVersion")))
    if algorithm is None:
        raise Forged(
            gettext("unknown SNS signature version %(version)s")
            % {"version": repr(message.get("SignatureVersion"))}
        )
    arns = settings.POSTROOM_SES_TOPIC_ARNS
    if arns and message.get("TopicArn") not in arns:
        raise Forged(
            gettext("the topic %(topic)s is not one of POSTROOM_SES_TOPIC_ARNS")
            % {"topic": repr(message.get("TopicArn"))}
        )
    try:
        signature = base64.b64decode(str(message.get("Signature", "")), validate=True)
    except binascii.Error:
        raise Forged(gettext("the signature is not base64")) from None
    key = certificate(
        _trusted_url(str(message.get("SigningCertURL", "")), gettext("the signing certificate"))
    )
    public = key.public_key()
    if not isinstance(public, rsa.RSAPublicKey):
        raise Forged(gettext("the signing certificate does not hold an RSA key"))
    try:
        public.verify(signature, string_to_sign(message), padding.PKCS1v15(), algorithm())
    except InvalidSignature:
        raise Forged(gettext("the SNS signature does not match the message")) from None


def receive(headers: Headers, body: bytes) -> list[Event]:
    message = json_body(body)
    if not isinstance(message, dict):
        raise InvalidInput(gettext("an SNS message is a JSON object"))
    verify(message)
    kind = message["Type"]
    if kind == "SubscriptionConfirmation":
        _fetch(_trusted_url(str(message.get("SubscribeURL", "")), gettext("the subscription URL")))
        log.info("confirmed the SNS subscription to %s", message.get("TopicArn"))
        return []
    if kind != "Notification":
        return []
    notification = json_body(str(message.get("Message", "")).encode())
    if not isinstance(notification, dict):
        return []
    return events_in(notification, str(message.get("MessageId", "")))


def _message_id(mail: dict[str, Any]) -> str:
    for header in mail.get("headers") or []:
        if str(header.get("name", "")).lower() == "message-id":
            return str(header.get("value", "")).strip()
    return str((mail.get("commonHeaders") or {}).get("messageId", "")).strip()


def events_in(notification: dict[str, Any], sns_id: str = "") -> list[Event]:
    """The bounces and complaints of one SES notification (deliveries and the rest: none)."""
    kind = notification.get("notificationType") or notification.get("eventType")
    mail = notification.get("mail") or {}
    message_id = _message_id(mail)
    raw = pretty(notification)
    events: list[Event] = []
    if kind == "Bounce":
        bounce = notification.get("bounce") or {}
        hard = bounce.get("bounceType") == "Permanent"
        key = str(bounce.get("feedbackId") or sns_id)
        for rcpt in bounce.get("bouncedRecipients") or []:
            status = str(rcpt.get("status") or "")
            reason = str(rcpt.get("diagnosticCode") or "").split(";", 1)[-1].strip()
            reason = reason or f"{bounce.get('bounceType')} / {bounce.get('bounceSubType')}"
            report = Report(HARD if hard else SOFT, str(rcpt.get("emailAddress", "")), status,
                            reason, message_id)  # fmt: skip
            events.append(Event(report, f"{NAME}:{key}", raw))
    elif kind == "Complaint":
        complaint = notification.get("complaint") or {}
        feedback = complaint.get("complaintFeedbackType") or "abuse"
        agent = complaint.get("userAgent")
        reason = f"{feedback} report" + (f" from {agent}" if agent else "") + " (Amazon SES)"
        key = str(complaint.get("feedbackId") or sns_id)
        for rcpt in complaint.get("complainedRecipients") or []:
            report = Report(COMPLAINT, str(rcpt.get("emailAddress", "")), "", reason, message_id)
            events.append(Event(report, f"{NAME}:{key}", raw))
    return events
