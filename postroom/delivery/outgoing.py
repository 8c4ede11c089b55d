"""Sending a few messages at once, outside campaigns: test sends, confirmations, alerts.

They go through the same transports and the same rate limiter as campaigns, so
every message through a sender counts against its limits (interface 5).
"""

from postroom.campaigns.compose import BuiltMessage
from postroom.delivery import ratelimit
from postroom.delivery.models import Sender
from postroom.delivery.smtp import OutgoingMessage, SendResult
from postroom.delivery.transports import transport_for


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
