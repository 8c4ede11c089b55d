"""Postmark's bounce and spam complaint webhooks.

Postmark does not sign its webhooks; it sends what the webhook URL holds, so the URL
carries a secret we chose: `https://postroom:SECRET@news.example.com/webhooks/postmark`
(HTTP Basic auth) with SECRET in POSTROOM_POSTMARK_WEBHOOK_TOKEN. Bounce types that
say the address is gone are hard; auto-replies, subscribe/unsubscribe requests and
challenge mails are no bounce at all; the rest is soft.
"""

import re
from typing import Any

from django.conf import settings
from django.utils.translation import gettext

from postroom.errors import InvalidInput
from postroom.tracking.bounces import COMPLAINT, HARD, SOFT, Report
from postroom.tracking.providers.base import Event, Headers, basic_or_bearer, json_body, pretty

NAME = "postmark"
HARD_TYPES = {"HardBounce", "BadEmailAddress", "ManuallyDeactivated"}
NOT_BOUNCES = {
    "AutoResponder", "Subscribe", "Unsubscribe", "OpenRelayTest", "ChallengeVerification",
    "AddressChange", "InboundError", "TemplateRenderingFailed",
}  # fmt: skip
_QUOTED_ID = re.compile(r"^\s*Message-ID:\s*(<[^>\s]+>)", re.I | re.M)


def enabled() -> bool:
    return bool(settings.POSTROOM_POSTMARK_WEBHOOK_TOKEN)


def receive(headers: Headers, body: bytes) -> list[Event]:
    basic_or_bearer(headers, settings.POSTROOM_POSTMARK_WEBHOOK_TOKEN)
    record = json_body(body)
    if not isinstance(record, dict):
        raise InvalidInput(gettext("a Postmark webhook body is a JSON object"))
    return _event(record)


def _event(record: dict[str, Any]) -> list[Event]:
    kind, subtype = record.get("RecordType"), str(record.get("Type", ""))
    # Postmark's MessageID is its own; the dump of the bounce may quote ours.
    quoted = _QUOTED_ID.findall(str(record.get("Content") or ""))
    message_id = quoted[-1] if quoted else ""
    address = str(record.get("Email", ""))
    details = str(record.get("Details") or record.get("Description") or "")
    if kind == "SpamComplaint" or subtype == "SpamComplaint":
        report = Report(COMPLAINT, address, "", "spam complaint (Postmark)", message_id)
    elif kind == "Bounce" and subtype not in NOT_BOUNCES:
        hard = subtype in HARD_TYPES
        report = Report(HARD if hard else SOFT, address, "", f"{subtype}: {details}".strip(": "),
                        message_id)  # fmt: skip
    else:
        return []
    return [Event(report, f"{NAME}:{record.get('ID')}", pretty(record))]
