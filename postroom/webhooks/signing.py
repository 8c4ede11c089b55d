"""How a webhook POST is signed, and how a receiver checks it (docs/webhooks.md).

The signature is HMAC-SHA256, keyed with the endpoint's secret, over
`TIMESTAMP.BODY` — the Unix time in the timestamp header, a dot, the raw body
bytes — written `v1=<hex>`. Signing the timestamp with the body lets a
receiver refuse an old POST replayed by someone who recorded it: accept only
timestamps within TOLERANCE_SECONDS of its own clock.
"""

import hashlib
import hmac
import secrets

HEADER_ID = "Postroom-Webhook-Id"
HEADER_EVENT = "Postroom-Webhook-Event"
HEADER_TIMESTAMP = "Postroom-Webhook-Timestamp"
HEADER_SIGNATURE = "Postroom-Webhook-Signature"
TOLERANCE_SECONDS = 300
SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def verify(secret: str, timestamp: str, signed: str, body: bytes, now: float) -> bool:
    """What a receiver does: a fresh timestamp, and the signature matches."""
    try:
        moment = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs(now - moment) > TOLERANCE_SECONDS:
        return False
    return hmac.compare_digest(signature(secret, moment, body), (signed or "").strip())
