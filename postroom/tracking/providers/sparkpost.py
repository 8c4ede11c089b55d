"""SparkPost's event webhooks: `bounce`, `out_of_band` and `spam_complaint`.

SparkPost does not sign them; a webhook is given Basic authentication credentials, and
the password goes in POSTROOM_SPARKPOST_WEBHOOK_TOKEN. A body is a JSON array of
`{"msys": {"message_event": {...}}}` (an empty `msys` is SparkPost's test ping). Its
bounce classes say whose fault a bounce is: 10, 30 and 90 (invalid or unknown
recipient, unsubscribe) are hard; the rest — full mailbox, blocks, DNS, policy — soft.
"""

import hashlib
from typing import Any

from django.conf import settings
from django.utils.translation import gettext

from postroom.errors import InvalidInput
from postroom.tracking.bounces import COMPLAINT, HARD, SOFT, Report, status_in
from postroom.tracking.providers.base import Event, Headers, basic_or_bearer, json_body, pretty

NAME = "sparkpost"
HARD_CLASSES = {"10", "30", "90"}


def enabled() -> bool:
    return bool(settings.POSTROOM_SPARKPOST_WEBHOOK_TOKEN)


def receive(headers: Headers, body: bytes) -> list[Event]:
    basic_or_bearer(headers, settings.POSTROOM_SPARKPOST_WEBHOOK_TOKEN)
    batch = json_body(body)
    if not isinstance(batch, list):
        raise InvalidInput(gettext("a SparkPost webhook body is a JSON array"))
    events: list[Event] = []
    for item in batch:
        msys = item.get("msys") if isinstance(item, dict) else None
        for event in (msys or {}).values():
            if isinstance(event, dict):
                events.extend(_event(event))
    return events


def _event(event: dict[str, Any]) -> list[Event]:
    kind = event.get("type")
    address = str(event.get("rcpt_to") or event.get("raw_rcpt_to") or "")
    if kind in ("bounce", "out_of_band"):
        bounce_class = str(event.get("bounce_class", ""))
        reason = str(event.get("reason") or event.get("raw_reason") or "")
        code = str(event.get("error_code") or "")
        report = Report(HARD if bounce_class in HARD_CLASSES else SOFT, address,
                        status_in(reason) or (f"{code[:1]}.0.0" if code[:1] in ("4", "5") else ""),
                        f"{reason} (bounce class {bounce_class})".strip())  # fmt: skip
    elif kind == "spam_complaint":
        feedback = event.get("fbtype") or "abuse"
        report = Report(COMPLAINT, address, "", f"{feedback} report (SparkPost)")
    else:
        return []
    key = str(event.get("event_id") or hashlib.sha256(pretty(event).encode()).hexdigest())
    return [Event(report, f"{NAME}:{key}", pretty(event))]
