"""Mailgun webhooks (`failed`, `complained`), signed with the HTTP webhook signing key.

The body carries its own signature: HMAC-SHA256 of timestamp + token under the key
in POSTROOM_MAILGUN_SIGNING_KEY, as hex. A token is used once (a replayed request
records nothing new: its event id is recorded already) and a timestamp further than
POSTROOM_WEBHOOK_MAX_AGE_SECONDS from now is refused.
"""

import hashlib
import hmac
from typing import Any

from django.conf import settings
from django.utils.translation import gettext

from postroom.errors import InvalidInput
from postroom.tracking.bounces import COMPLAINT, HARD, SOFT, Report
from postroom.tracking.providers.base import Event, Forged, Headers, fresh, json_body, pretty

NAME = "mailgun"


def enabled() -> bool:
    return bool(settings.POSTROOM_MAILGUN_SIGNING_KEY)


def sign(key: str, timestamp: str, token: str) -> str:
    return hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()


def verify(signature: Any) -> None:
    if not isinstance(signature, dict):
        raise Forged(gettext("the request carries no Mailgun signature"))
    timestamp, token = str(signature.get("timestamp", "")), str(signature.get("token", ""))
    given = str(signature.get("signature", ""))
    fresh(timestamp, settings.POSTROOM_WEBHOOK_MAX_AGE_SECONDS)
    expected = sign(settings.POSTROOM_MAILGUN_SIGNING_KEY, timestamp, token)
    if not token or not hmac.compare_digest(expected, given):
        raise Forged(gettext("the Mailgun signature does not match"))


def receive(headers: Headers, body: bytes) -> list[Event]:
    data = json_body(body)
    if not isinstance(data, dict):
        raise InvalidInput(gettext("a Mailgun webhook body is a JSON object"))
    verify(data.get("signature"))
    event = data.get("event-data")
    return _event(event) if isinstance(event, dict) else []


def _message_id(event: dict[str, Any]) -> str:
    value = str(((event.get("message") or {}).get("headers") or {}).get("message-id", "")).strip()
    return f"<{value.strip('<>')}>" if value else ""


def _event(event: dict[str, Any]) -> list[Event]:
    kind = event.get("event")
    address = str(event.get("recipient", ""))
    if kind == "failed":
        status = event.get("delivery-status") or {}
        code = str(status.get("enhanced-code") or "")
        if not code and str(status.get("code", ""))[:1] in ("4", "5"):  # 605: Mailgun's own
            code = f"{str(status['code'])[:1]}.0.0"
        reason = str(
            status.get("description") or status.get("message") or event.get("reason") or ""
        )
        hard = event.get("severity") == "permanent"
        report = Report(HARD if hard else SOFT, address, code, reason or "failed (Mailgun)",
                        _message_id(event))  # fmt: skip
    elif kind == "complained":
        report = Report(COMPLAINT, address, "", "complaint (Mailgun)", _message_id(event))
    else:
        return []
    key = str(event.get("id") or hashlib.sha256(pretty(event).encode()).hexdigest())
    return [Event(report, f"{NAME}:{key}", pretty(event))]
