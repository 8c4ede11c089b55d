"""The local capture outbox: messages are stored in the database and shown in the UI.

It is the embedded default when no SMTP sender exists, so a fresh install can
run a whole campaign and show exactly what would have gone out.
"""

import concurrent.futures
import re

from django.db import transaction

from postroom.delivery.models import OutboxMessage
from postroom.delivery.transports.base import done
from postroom.mail.smtp import ACCEPTED, CheckReport, OutgoingMessage, SendResult

_SUBJECT = re.compile(rb"^Subject:[ \t]*(.*?)\r?$", re.IGNORECASE | re.MULTILINE)
_MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*(.*?)\r?$", re.IGNORECASE | re.MULTILINE)


def _header(pattern: re.Pattern, data: bytes) -> str:
    head = data.split(b"\r\n\r\n", 1)[0]
    found = pattern.search(head)
    return found.group(1).decode("ascii", "replace") if found else ""


class OutboxTransport:
    """Needs no journal: its commit is the dot and the reply at once, and recovery finds
    a dead worker's handed rows here by Message-ID (`recovery._in_outbox`)."""

    def __init__(self, sender: object = None, journal: object = None) -> None:
        pass

    def submit(
        self, messages: list[OutgoingMessage], campaign_id: int | None = None
    ) -> concurrent.futures.Future:
        rows = []
        results = []
        for message in messages:
            for rcpt in message.recipients:
                rows.append(
                    OutboxMessage(
                        campaign_id=campaign_id,
                        mail_from=message.mail_from,
                        rcpt_to=rcpt,
                        subject=_header(_SUBJECT, message.data)[:998],
                        message_id=_header(_MESSAGE_ID, message.data)[:255],
                        data=message.data,
                    )
                )
            results.append(SendResult(message.key, ACCEPTED, 250, "250 stored in the outbox"))
        with transaction.atomic():
            OutboxMessage.objects.bulk_create(rows, batch_size=500)
        return done(results)

    def check(self) -> CheckReport:
        return CheckReport(True, "ok", "the local outbox stores messages in the database")

    def close(self) -> None:
        pass
