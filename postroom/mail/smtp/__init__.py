"""SMTP transport: a pipelining asyncio client and a pool with a synchronous facade.

    pool = SmtpPool("smtp.example.org", 587, tls="starttls", username=..., password=...)
    results = pool.send([OutgoingMessage(key, "from@x.org", ["to@y.org"], data)])

Each result says accepted / temporary / permanent / error, at which stage, and
whether the fault is the sender's (see `replies`).
"""

from postroom.mail.smtp.client import (
    ServerSettings,
    SmtpConnection,
    encode_body,
    make_ssl_context,
    never_answered,
)
from postroom.mail.smtp.journal import Journal
from postroom.mail.smtp.pool import CheckReport, SmtpPool, check
from postroom.mail.smtp.replies import (
    ACCEPTED,
    AUTH,
    CONNECT,
    DATA,
    ERROR,
    MAIL,
    PERMANENT,
    RCPT,
    TEMPORARY,
    TLS,
    OutgoingMessage,
    Reply,
    SendResult,
    SmtpError,
)

__all__ = [
    "ACCEPTED",
    "AUTH",
    "CONNECT",
    "DATA",
    "ERROR",
    "MAIL",
    "PERMANENT",
    "RCPT",
    "TEMPORARY",
    "TLS",
    "CheckReport",
    "Journal",
    "OutgoingMessage",
    "Reply",
    "SendResult",
    "ServerSettings",
    "SmtpConnection",
    "SmtpError",
    "SmtpPool",
    "check",
    "encode_body",
    "make_ssl_context",
    "never_answered",
]
