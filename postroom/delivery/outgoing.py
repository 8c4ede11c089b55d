"""Sending a few messages at once, outside campaigns: test sends, confirmations, alerts.

They go through the same transports and the same rate limiter as campaigns, so
every message through a sender counts against its limits.
`send_now` sends within half a minute or refuses; `send_soon` (test sends) never
refuses for the rate limit: what cannot leave at once waits in the database
for its slot, and a worker's maintenance step (`send_due`) sends it then.
"""

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import transaction
from django.utils import timezone

from postroom.delivery import ratelimit
from postroom.delivery.models import QueuedMessage, Sender
from postroom.delivery.transports import transport_for
from postroom.mail.compose import BuiltMessage
from postroom.mail.smtp import OutgoingMessage, SendResult

log = logging.getLogger("postroom.delivery")


def send_now(sender: Sender | None, messages: list[BuiltMessage]) -> list[SendResult]:
    """Send and wait; one SendResult per message, in order. None = the local outbox.

    Raises ratelimit.RateLimited, sending nothing, when the sender's limits leave
    no room within the next half minute.
    """
    if not messages:
        return []
    times = ratelimit.acquire_now(sender.pk if sender else None, len(messages))
    transport = transport_for(sender)
    try:
        results: list[SendResult] = []
        for index, message in enumerate(messages):
            ratelimit.wait_until(times[index])
            outgoing = OutgoingMessage(index, message.mail_from, message.rcpt_to, message.data)
            results.extend(transport.submit([outgoing]).result())
        return results
    finally:
        transport.close()


# A test send waits for its slot inside the request at most this long; a later
# slot is kept in the database and a worker sends the message when it comes.
WAIT_IN_REQUEST = 2.0
# A queued message sent later than its slot by more than this takes a fresh one
# (a worker was down): sending it late in an old slot could overfill a window.
LATE_SECONDS = ratelimit.SAFETY_MARGIN / 2
# Temporary failures and unreachable servers are tried again this often, this many times.
RETRY_SECONDS = 30
MAX_ATTEMPTS = 5
# A worker sending a queued message holds it this long; if it dies, another sends it.
LEASE_SECONDS = 300


@dataclass(frozen=True)
class Outcome:
    """What became of one message given to `send_soon`: sent (with its result) or queued."""

    rcpt_to: str
    result: SendResult | None = None  # None: queued
    leaves_at: float | None = None  # epoch seconds, when queued

    @property
    def queued(self) -> bool:
        return self.result is None

    @property
    def ok(self) -> bool:
        return self.queued or bool(self.result and self.result.ok)

    def describe(self) -> str:
        """One line for the UI and the CLI, true to what happened."""
        if self.result is None:
            return (
                f"the test to {self.rcpt_to} will leave {leave_time(self.leaves_at or 0)}"
                " (the sender's rate limit)"
            )
        if self.result.ok:
            return f"test sent to {self.rcpt_to}"
        return f"the test to {self.rcpt_to} failed: {self.result.reply or self.result.message}"


def leave_time(at: float, now: float | None = None) -> str:
    """ "at 14:05:12, in 3 min" in the installation's time zone."""
    now = time.time() if now is None else now
    local = timezone.localtime(datetime.fromtimestamp(at, UTC))
    left = max(0.0, at - now)
    if left >= 3600:
        distance = f"{int(left // 3600)} h {int(left % 3600 // 60)} min"
    elif left >= 60:
        distance = f"{int(left // 60)} min"
    else:
        distance = f"{int(left)} s"
    return f"at {local:%H:%M:%S}, in {distance}"


def send_soon(
    sender: Sender | None,
    messages: list[BuiltMessage],
    campaign_id: int | None = None,
    wait: float = WAIT_IN_REQUEST,
) -> list[Outcome]:
    """Send what the sender's limits allow within `wait` seconds; queue the rest in slots.

    Never refused for the rate limit: each message gets the sender's next free
    slot at once (so the time told to the user holds), those due within
    `wait` leave now, the others are stored and a worker sends them then.
    """
    if not messages:
        return []
    times, tokens = ratelimit.take_slots(sender.pk if sender else None, len(messages))
    now = time.time()
    soon = [i for i, at in enumerate(times) if at <= now + wait]
    later = [i for i in range(len(messages)) if i not in soon]
    outcomes: dict[int, Outcome] = {}
    with transaction.atomic():
        for i in later:
            message = messages[i]
            QueuedMessage.objects.create(
                sender=sender,
                campaign_id=campaign_id,
                mail_from=message.mail_from,
                rcpt_to=message.rcpt_to,
                message_id=message.message_id,
                data=message.data,
                not_before=times[i],
                token=tokens[i],
            )
            outcomes[i] = Outcome(message.rcpt_to, leaves_at=times[i])
    if soon:
        transport = transport_for(sender)
        try:
            for i in soon:
                ratelimit.wait_until(times[i])
                message = messages[i]
                outgoing = OutgoingMessage(i, message.mail_from, message.rcpt_to, message.data)
                outcomes[i] = Outcome(message.rcpt_to, transport.submit([outgoing]).result()[0])
        finally:
            transport.close()
    return [outcomes[i] for i in range(len(messages))]


def send_due(limit: int = 20) -> int:
    """Send the queued messages whose slot has come (a worker's step); the number handled."""
    now = time.time()
    due = list(
        QueuedMessage.objects.filter(state=QueuedMessage.State.QUEUED, not_before__lte=now)
        .select_related("sender")
        .order_by("not_before")[:limit]
    )
    handled = 0
    for row in due:
        # Held by a lease rather than a state, so a worker that dies here loses nothing.
        held = QueuedMessage.objects.filter(
            pk=row.pk, state=QueuedMessage.State.QUEUED, not_before=row.not_before
        ).update(not_before=now + LEASE_SECONDS)
        if held != 1:
            continue
        handled += 1
        if now - row.not_before > LATE_SECONDS and row.sender_id is not None:
            _requeue(row, delay=0)
            if row.not_before > now + LATE_SECONDS:
                continue
        _send_queued(row)
    return handled


def _requeue(row: QueuedMessage, delay: float) -> None:
    """Give the row a fresh slot, at least `delay` seconds from now."""
    ratelimit.drop_slot(row.token)
    times, tokens = ratelimit.take_slots(row.sender_id, 1)
    row.not_before, row.token = max(times[0], time.time() + delay), tokens[0]
    QueuedMessage.objects.filter(pk=row.pk).update(not_before=row.not_before, token=row.token)


def _send_queued(row: QueuedMessage) -> None:
    transport = transport_for(row.sender)
    try:
        outgoing = OutgoingMessage(row.pk, row.mail_from, row.rcpt_to, bytes(row.data))
        result = transport.submit([outgoing]).result()[0]
    except Exception as exc:  # a broken transport: try again later, never crash the worker
        log.exception("sending queued message %s", row.pk)
        result = SendResult(row.pk, "error", message=str(exc))
    finally:
        transport.close()
    row.attempts += 1
    reply = (result.reply or result.message)[:1000]
    if result.ok or result.outcome == "permanent" or row.attempts >= MAX_ATTEMPTS:
        state = QueuedMessage.State.SENT if result.ok else QueuedMessage.State.FAILED
        QueuedMessage.objects.filter(pk=row.pk).update(
            state=state, reply=reply, attempts=row.attempts, sent_at=timezone.now()
        )
        return
    QueuedMessage.objects.filter(pk=row.pk).update(reply=reply, attempts=row.attempts)
    _requeue(row, delay=RETRY_SECONDS)
