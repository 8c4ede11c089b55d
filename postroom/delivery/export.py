"""The delivery log as rows: one line per recipient, walked by keyset so 1M rows stream flat."""

import csv
import io
from collections.abc import Iterator

from django.db.models import QuerySet

from postroom.delivery.models import Delivery, Sender

COLUMNS = [
    "email", "state", "sent_at", "attempts", "sender", "reply", "message_id", "error", "updated_at",
]  # fmt: skip
CHUNK = 2000


def deliveries(campaign_id: int, state: str = "", search: str = "") -> QuerySet[Delivery]:
    qs = Delivery.objects.filter(campaign_id=campaign_id)
    if state:
        if state == "pending":
            qs = qs.filter(
                state__in=(Delivery.State.PENDING, Delivery.State.SENDING, Delivery.State.RETRY)
            )
        else:
            qs = qs.filter(state=state)
    if search:
        qs = qs.filter(email__icontains=search.strip().lower())
    return qs


def rows(campaign_id: int, state: str = "", search: str = "") -> Iterator[list[str]]:
    """Every matching row as CSV fields, in ledger order, a chunk of ids at a time."""
    senders = dict(Sender.objects.values_list("id", "name"))
    qs = deliveries(campaign_id, state, search)
    last = 0
    while True:
        chunk = list(
            qs.filter(id__gt=last)
            .order_by("id")
            .values_list(
                "id",
                "email",
                "state",
                "sent_at",
                "attempts",
                "sender_id",
                "reply",
                "message_id",
                "error",
                "updated_at",
            )[:CHUNK]
        )
        if not chunk:
            return
        for (
            _id,
            email,
            st,
            sent_at,
            attempts,
            sender_id,
            reply,
            message_id,
            error,
            updated_at,
        ) in chunk:
            yield [
                email,
                st,
                sent_at.isoformat() if sent_at else "",
                str(attempts),
                senders.get(sender_id, "outbox" if st == "sent" and sender_id is None else ""),
                reply,
                message_id,
                error,
                updated_at.isoformat() if updated_at else "",
            ]
        last = chunk[-1][0]


def csv_lines(campaign_id: int, state: str = "", search: str = "") -> Iterator[str]:
    """The CSV export, header first, one encoded line at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        value = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return value

    writer.writerow(COLUMNS)
    yield flush()
    for row in rows(campaign_id, state, search):
        writer.writerow([_safe(v) for v in row])
        yield flush()


def _safe(value: str) -> str:
    """Defuse spreadsheet formulas in values that came from outside (replies, addresses)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value
