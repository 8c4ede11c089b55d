"""What one message attempt came to, in terms the delivery engine acts on.

The engine needs four answers, not SMTP codes: it was accepted; try this
recipient again later; this recipient failed for good; or the server/connection
itself is in trouble (back off the sender, do not blame the recipient). Every
path in the client ends in exactly one `SendResult` built here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

ACCEPTED = "accepted"
TEMPORARY = "temporary"
PERMANENT = "permanent"
ERROR = "error"

# Stages, in the order a message goes through them.
CONNECT = "connect"
TLS = "tls"
AUTH = "auth"
MAIL = "mail"
RCPT = "rcpt"
DATA = "data"


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """One envelope: a sender, one or more recipients, and the finished message bytes."""

    key: Any
    mail_from: str
    rcpt_to: list[str] | str
    data: bytes
    # True when `data` has CRLF line ends only, as Postroom's MIME builder makes
    # them: the client then skips normalising them (two passes over the message).
    crlf: bool = False
    # False when the builder knows that no line of `data` starts with a dot: the client
    # then skips searching it for lines to dot-stuff (13 µs for 29 KB).
    dotted: bool = True

    @property
    def recipients(self) -> list[str]:
        return [self.rcpt_to] if isinstance(self.rcpt_to, str) else list(self.rcpt_to)


class Reply(NamedTuple):
    """A complete (possibly multi-line) server reply; lines are joined with newlines."""

    code: int
    text: str

    def __str__(self) -> str:
        return f"{self.code} {self.text}"


@dataclass(slots=True)
class SendResult:
    """The outcome of one message attempt.

    `outcome` is one of accepted / temporary / permanent / error. `error` means
    no SMTP verdict was reached (connection, TLS, auth, timeout, dropped): the
    message was not accepted and should be retried later. `sender_error` is True
    when the trouble is the server's or the sender's, not the recipient's (a
    421, a refused MAIL FROM, every `error`), so the engine backs off the sender
    instead of counting a bounce.
    """

    key: Any
    outcome: str
    code: int | None = None
    reply: str = ""
    stage: str = ""
    message: str = ""
    sender_error: bool = False
    # Recipients refused while others on the same envelope were accepted.
    rejected: dict[str, str] = field(default_factory=dict)
    # The whole body was sent but no reply came: the server may have kept it.
    maybe_delivered: bool = False

    @property
    def ok(self) -> bool:
        return self.outcome == ACCEPTED

    @property
    def retryable(self) -> bool:
        return self.outcome in (TEMPORARY, ERROR)


class SmtpError(Exception):
    """A connection- or session-level failure: no verdict for the message."""

    def __init__(
        self,
        stage: str,
        message: str,
        reply: Reply | None = None,
        *,
        maybe_delivered: bool = False,
    ) -> None:
        super().__init__(message)
        self.stage = stage
        self.message = message
        self.reply = reply
        self.maybe_delivered = maybe_delivered

    def result(self, key: Any) -> SendResult:
        reply = self.reply
        if reply is not None and reply.code == 421:
            return from_reply(key, reply, self.stage)
        return SendResult(
            key=key,
            outcome=ERROR,
            code=reply.code if reply else None,
            reply=str(reply) if reply else "",
            stage=self.stage,
            message=self.message,
            sender_error=True,
            maybe_delivered=self.maybe_delivered,
        )


def is_positive(reply: Reply) -> bool:
    return 200 <= reply.code < 400


def from_reply(key: Any, reply: Reply, stage: str) -> SendResult:
    """Classify a definite server answer to one transaction step."""
    code = reply.code
    if 200 <= code < 300:
        return SendResult(key, ACCEPTED, code, str(reply), stage, "accepted")
    if code == 421:
        return SendResult(
            key,
            TEMPORARY,
            code,
            str(reply),
            stage,
            f"server is closing the connection: {reply}",
            sender_error=True,
        )
    # A refused MAIL FROM is about the sender or the session, never this recipient.
    sender_error = stage == MAIL
    if 400 <= code < 500:
        return SendResult(
            key, TEMPORARY, code, str(reply), stage, f"deferred: {reply}", sender_error
        )
    return SendResult(key, PERMANENT, code, str(reply), stage, f"rejected: {reply}", sender_error)


def from_envelope(
    key: Any,
    mail: Reply,
    rcpts: list[tuple[str, Reply]],
    data: Reply | None,
) -> SendResult | None:
    """Classify a failed envelope, or return None when DATA may go ahead."""
    if not is_positive(mail):
        return from_reply(key, mail, MAIL)
    refused = [(addr, r) for addr, r in rcpts if not is_positive(r)]
    if len(refused) == len(rcpts):
        # When every recipient failed, the verdict is the worst-case retry
        # decision: deferred if any of them may still succeed later.
        temporary = [r for _, r in refused if 400 <= r.code < 500]
        result = from_reply(key, temporary[0] if temporary else refused[0][1], RCPT)
        if len(refused) > 1:
            result.rejected = {addr: str(r) for addr, r in refused}
        return result
    if data is not None and data.code != 354:
        return from_reply(key, data, DATA)
    return None


def rejected_recipients(rcpts: list[tuple[str, Reply]]) -> dict[str, str]:
    return {addr: str(r) for addr, r in rcpts if not is_positive(r)}


def refused(key: Any, stage: str, message: str, *, sender_error: bool) -> SendResult:
    """A message the client will not even try on this server (e.g. needs SMTPUTF8)."""
    return SendResult(key, PERMANENT, None, "", stage, message, sender_error)
