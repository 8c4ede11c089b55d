"""Permanent SMTP rejections at send time, sorted by whose fault they are.

    rejections.act(campaign_id, sender_id, [(row, result, message_id), ...])

A `550 5.1.1 no such user` at RCPT is the same news as a DSN that comes back an
hour later, so it is recorded the same way (tracking.bounces.record, source
`smtp`): a bad mailbox is a hard bounce and suppresses the address by the bounce
policy, and the next campaign skips it. A full mailbox is a soft bounce (it
counts towards the soft-bounce limit). A policy or reputation refusal (5.7.x:
spam, blocklists, DMARC) is not the address's fault: the address stays
mailable, and it counts against the sender — the campaign's event log names it,
the sender keeps the count and the last one, and the campaign's error threshold
still sees the failure. Anything else fails the recipient alone. 4.x.x replies
never get here: they are retried (delivery.results).

The code rules are POSTROOM_REJECTION_RULES (`PREFIX=ACTION`, the longest
matching prefix wins); a reply without an enhanced code is read by its words
(TEXT_RULES) and otherwise just fails.
"""

import hashlib
import logging
import re
from dataclasses import dataclass

from django.conf import settings
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext

from postroom.delivery import events
from postroom.delivery import texts as T
from postroom.delivery.ledger import Claimed
from postroom.delivery.models import Sender
from postroom.errors import ConfigurationError
from postroom.mail.smtp import SendResult
from postroom.tracking import bounces

log = logging.getLogger("postroom.delivery")

HARD, SOFT, POLICY, FAILED = "hard", "soft", "policy", "failed"
ACTIONS = (HARD, SOFT, POLICY, FAILED)
# For replies with no enhanced status code, the words servers use; first match wins.
TEXT_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"spam|block ?list|blacklist|blocked|reputation|policy|dmarc|\bspf\b|dkim", re.I),
     POLICY),
    (re.compile(r"mailbox (is )?full|over ?quota|quota exceeded|insufficient (system )?storage",
                re.I), SOFT),
    (re.compile(r"user unknown|unknown (user|recipient)|no such (user|mailbox|recipient|address)"
                r"|does not exist|invalid (recipient|mailbox|address)|mailbox unavailable"
                r"|recipient address rejected|not a valid mailbox", re.I), HARD),
]  # fmt: skip


@dataclass(frozen=True)
class Verdict:
    action: str  # hard | soft | policy | failed
    status: str  # the enhanced status code, or one made from the reply code ("5.0.0")
    rule: str  # which rule decided, for the docs and the tests


def code_rules() -> list[tuple[str, str]]:
    """POSTROOM_REJECTION_RULES as (prefix, action), longest prefix first."""
    parsed = []
    for rule in settings.POSTROOM_REJECTION_RULES:
        prefix, _, action = rule.partition("=")
        prefix, action = prefix.strip().rstrip("."), action.strip().lower()
        if action not in ACTIONS or not re.fullmatch(r"[245](\.\d{1,3}){0,2}", prefix):
            raise ConfigurationError(
                gettext(
                    "POSTROOM_REJECTION_RULES: %(rule)s is not PREFIX=ACTION"
                    " (e.g. 5.1=hard; actions: %(actions)s)"
                )
                % {"rule": repr(rule), "actions": ", ".join(ACTIONS)}
            )
        parsed.append((prefix, action))
    return sorted(parsed, key=lambda pair: -len(pair[0]))


def classify(reply: str) -> Verdict:
    """What a permanent rejection's reply means; the code rules first, then the words."""
    enhanced = bounces.enhanced_status(reply)
    if enhanced:
        for prefix, action in code_rules():
            if enhanced == prefix or enhanced.startswith(prefix + "."):
                return Verdict(action, enhanced, f"{prefix}={action}")
    for pattern, action in TEXT_RULES:
        if pattern.search(reply):
            return Verdict(action, enhanced or bounces.status_in(reply), f"text: {pattern.pattern}")
    return Verdict(FAILED, enhanced or bounces.status_in(reply), "no rule")


def act(
    campaign_id: int, sender_id: int | None, rejected: list[tuple[Claimed, SendResult, str]]
) -> None:
    """Record the permanent rejections of one recorded part (after its commit).

    Never raises: the part is recorded already, and a failure here must not stop the
    worker; it is logged and the next rejection is tried.
    """
    policy: list[str] = []
    summary = bounces.Summary()
    for row, result, message_id in rejected:
        reply = " ".join((result.reply or result.message).split())[:1000]
        verdict = classify(reply)
        try:
            if verdict.action in (HARD, SOFT):
                report = bounces.Report(
                    verdict.action, row.email, verdict.status, reply, message_id
                )
                # One verdict per row and attempt: a retried part never records it twice.
                key = f"smtp:{campaign_id}:{row.id}:{row.attempts}"
                fingerprint = hashlib.sha256(key.encode()).hexdigest()
                bounces.record(report, fingerprint, "smtp", summary, reply)
            elif verdict.action == POLICY:
                policy.append(reply)
        except Exception:
            log.exception("recording the rejection of delivery %s", row.id)
    if policy:
        _count_against_sender(campaign_id, sender_id, policy)


def _count_against_sender(campaign_id: int, sender_id: int | None, replies: list[str]) -> None:
    try:
        name = "the local outbox"
        if sender_id is not None:
            Sender.objects.filter(pk=sender_id).update(
                policy_rejections=F("policy_rejections") + len(replies),
                last_policy_rejection=replies[-1],
                last_policy_rejection_at=timezone.now(),
            )
            name = str(Sender.objects.filter(pk=sender_id).values_list("name", flat=True).first())
        events.record(
            campaign_id,
            events.Kind.SENDER_ERROR,
            T.POLICY_REFUSALS % {"count": len(replies), "name": repr(name), "reply": replies[-1]},
        )
    except Exception:
        log.exception("counting policy rejections against sender %s", sender_id)
