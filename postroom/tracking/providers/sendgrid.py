"""SendGrid's Event Webhook, signed (the "Signed Event Webhook" setting).

SendGrid signs the timestamp header followed by the raw body with ECDSA P-256 and
SHA-256; the public key (base64 DER as its dashboard shows it, or PEM) goes in
POSTROOM_SENDGRID_PUBLIC_KEY. A body is a JSON array of events; `bounce` (type
`bounce`: the address is gone; type `blocked`: the receiver refused for now) and
`spamreport` are acted on, the rest (delivered, open, deferred, dropped…) ignored.
"""

import base64
import binascii
import hashlib
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.utils.translation import gettext

from postroom.errors import ConfigurationError, InvalidInput
from postroom.tracking.bounces import COMPLAINT, HARD, SOFT, Report
from postroom.tracking.providers.base import Event, Forged, Headers, fresh, json_body, pretty

NAME = "sendgrid"
SIGNATURE = "x-twilio-email-event-webhook-signature"
TIMESTAMP = "x-twilio-email-event-webhook-timestamp"


def enabled() -> bool:
    return bool(settings.POSTROOM_SENDGRID_PUBLIC_KEY)


def public_key() -> ec.EllipticCurvePublicKey:
    text = settings.POSTROOM_SENDGRID_PUBLIC_KEY.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(text.encode())
        else:
            key = serialization.load_der_public_key(base64.b64decode(text))
    except (ValueError, binascii.Error) as exc:
        raise ConfigurationError(
            gettext("POSTROOM_SENDGRID_PUBLIC_KEY is not a public key: %(exc)s") % {"exc": exc}
        ) from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ConfigurationError(gettext("POSTROOM_SENDGRID_PUBLIC_KEY is not an ECDSA key"))
    return key


def verify(headers: Headers, body: bytes) -> None:
    signature, timestamp = headers.get(SIGNATURE, ""), headers.get(TIMESTAMP, "")
    if not signature or not timestamp:
        raise Forged(gettext("the request carries no SendGrid signature"))
    fresh(timestamp, settings.POSTROOM_WEBHOOK_MAX_AGE_SECONDS)
    try:
        public_key().verify(
            base64.b64decode(signature, validate=True),
            timestamp.encode() + body,
            ec.ECDSA(hashes.SHA256()),
        )
    except (InvalidSignature, binascii.Error):
        raise Forged(gettext("the SendGrid signature does not match the body")) from None


def receive(headers: Headers, body: bytes) -> list[Event]:
    verify(headers, body)
    events = json_body(body)
    if not isinstance(events, list):
        raise InvalidInput(gettext("a SendGrid event webhook body is a JSON array"))
    return [e for event in events if isinstance(event, dict) for e in _event(event)]


def _event(event: dict[str, Any]) -> list[Event]:
    kind = event.get("event")
    if kind == "bounce":
        hard = event.get("type", "bounce") == "bounce"
        report = Report(
            HARD if hard else SOFT,
            str(event.get("email", "")),
            str(event.get("status", "")),
            str(event.get("reason", "")) or "bounced (SendGrid)",
            str(event.get("smtp-id", "")).strip(),
        )
    elif kind == "spamreport":
        report = Report(COMPLAINT, str(event.get("email", "")), "", "spam report (SendGrid)",
                        str(event.get("smtp-id", "")).strip())  # fmt: skip
    else:
        return []
    key = str(event.get("sg_event_id") or hashlib.sha256(pretty(event).encode()).hexdigest())
    return [Event(report, f"{NAME}:{key}", pretty(event))]
