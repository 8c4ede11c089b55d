"""What every way of sending mail provides to the engine."""

import concurrent.futures
from typing import Protocol

from postroom.mail.smtp import CheckReport, OutgoingMessage, SendResult


class Transport(Protocol):
    """Sends finished messages; one instance per sender per worker, kept between batches.

    Built as `cls(sender, journal=...)`: a transport that can tell when a message
    becomes irrevocable (SMTP: the final dot) calls `journal.dot(key)` just before
    and `journal.reply(result)` once it knows the outcome (see `smtp.Journal`).
    """

    def submit(
        self, messages: list[OutgoingMessage], campaign_id: int | None = None
    ) -> concurrent.futures.Future:
        """Start sending; the future's result is one SendResult per message, in order."""
        ...

    def check(self) -> CheckReport:
        """Try to reach the server and report the first step that fails."""
        ...

    def close(self) -> None: ...


def done(results: list[SendResult]) -> concurrent.futures.Future:
    """A future that is already resolved, for transports that finish synchronously."""
    future: concurrent.futures.Future = concurrent.futures.Future()
    future.set_result(results)
    return future
