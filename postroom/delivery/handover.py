"""The in-doubt window of one batch, owned by one object: `HandOver`.

A row is in doubt from the moment its message may be on the wire until its
reply is recorded. Everything that opens or closes that window happens here,
in this order, and nowhere else:

1. `ledger.hand_over` commits `handed_at` for a part's rows (a crash before
   it: they were only claimed and go back to the queue silently);
2. the worker's journal notes the part (a crash after the commit but before
   this: the journal never saw them leave, so they go back to the queue);
3. the transport gets the part (from here the SMTP client journals each final
   dot and reply);
4. `results.record` writes the part's replies in one commit, which also
   commits `handed_at` for the next waiting part (one commit per part), and
   the journal is told the part is recorded; the next part goes to the
   transport.

At most PARTS_IN_FLIGHT parts are with the transport unrecorded, so a killed
worker leaves at most those handed over (the rest was never handed over).
The worker decides when to wait and when to record (`ready`, `wait`,
`record`); this object never calls back into it.
"""

import concurrent.futures
import logging
from collections import deque
from dataclasses import dataclass

from postroom.campaigns.models import Campaign
from postroom.delivery import ledger, results
from postroom.delivery.batches import Batch
from postroom.delivery.journal import WorkerJournal
from postroom.delivery.ledger import Claimed
from postroom.delivery.transports import Transport
from postroom.delivery.transports.base import done
from postroom.mail.smtp import CONNECT, DATA, SmtpError

log = logging.getLogger("postroom.delivery")

# Messages per transport submission, each recorded as soon as it completes;
# at most PARTS_IN_FLIGHT of them are with the transport at any time.
PART_SIZE = 50
PARTS_IN_FLIGHT = 2


@dataclass(slots=True)
class Part:
    future: concurrent.futures.Future
    rows: list[Claimed]
    token: int  # the journal's note of this part


class HandOver:
    """A batch being sent: parts with the transport, and slices still waiting."""

    def __init__(
        self, batch: Batch, transport: Transport, worker_id: str, journal: WorkerJournal
    ) -> None:
        self.batch = batch
        self.transport = transport
        self.worker_id = worker_id
        self.journal = journal
        self.parts: deque[Part] = deque()  # with the transport, oldest first
        self.waiting: list[tuple[int, int]] = []  # slices of batch.rows not yet handed over
        self.handed = 0  # rows handed over: what the batch used of its grant
        self.requeued = 0  # of those, rows that came back unsent (the sender's trouble)

    def in_parts(self) -> None:
        """Split the whole batch into parts waiting to be handed over."""
        count = len(self.batch.messages)
        self.waiting = [
            (first, min(first + PART_SIZE, count)) for first in range(0, count, PART_SIZE)
        ]

    def fill(self) -> None:
        """Keep a few parts with the transport: enough to keep it busy, few enough that a
        killed worker leaves only those in doubt."""
        while self.waiting and len(self.parts) < PARTS_IN_FLIGHT:
            self.send(*self.waiting.pop(0))

    def send(self, first: int, last: int, handed: list[int] | None = None) -> None:
        """Hand rows first…last over (steps 1 to 3); `handed`: already committed by `record`."""
        batch = self.batch
        rows, messages = batch.rows[first:last], batch.messages[first:last]
        if handed is None:
            handed = ledger.hand_over([r.id for r in rows], self.worker_id)
        if len(handed) != len(rows):  # some were recovered by another worker: not ours
            keep = set(handed)
            pairs = [(r, m) for r, m in zip(rows, messages, strict=True) if r.id in keep]
            rows, messages = [r for r, _ in pairs], [m for _, m in pairs]
            if not rows:
                return
        token = self.journal.handed([(r.id, batch.message_ids.get(r.id, "")) for r in rows])
        try:
            future = self.transport.submit(messages, batch.campaign_id)
        except SmtpError as exc:  # the transport could not even start
            future = done([exc.result(m.key) for m in messages])
        except Exception as exc:  # a broken transport: nothing left, the sender is at fault
            log.exception("transport refused a part")
            error = SmtpError(CONNECT, f"the transport failed: {exc}")
            future = done([error.result(m.key) for m in messages])
        self.parts.append(Part(future, rows, token))
        self.handed += len(rows)

    def ready(self) -> bool:
        """Whether the oldest part with the transport has come back."""
        return bool(self.parts) and self.parts[0].future.done()

    def wait(self, seconds: float) -> bool:
        """Wait up to `seconds` for the oldest part; True once it is back."""
        if not self.parts:
            return True
        finished, _ = concurrent.futures.wait([self.parts[0].future], timeout=seconds)
        return bool(finished)

    def record(self, more: bool = True) -> results.Outcome:
        """Record the oldest part's replies (step 4) and, if `more`, hand over the next
        waiting part in the same commit. Waits for the part if it is not back yet."""
        batch = self.batch
        campaign = batch.context.campaign
        part = self.parts.popleft()
        try:
            sent_results = part.future.result()
        except Exception as exc:  # the transport broke mid-way: maybe sent, say so
            log.exception("transport failed while sending a part")
            error = SmtpError(DATA, f"the transport failed: {exc}", maybe_delivered=True)
            sent_results = [error.result(r.id) for r in part.rows]
        following = self.waiting.pop(0) if self.waiting and more else None
        outcome = results.record(
            batch.campaign_id,
            campaign.started_at,
            campaign.sender_id,
            self.worker_id,
            part.rows,
            sent_results,
            batch.message_ids,
            campaign.in_doubt_policy == Campaign.InDoubtPolicy.RESEND,
            hand_over=[r.id for r in batch.rows[following[0] : following[1]]]
            if following
            else None,
        )
        self.journal.committed(part.token)
        self.requeued += outcome.requeued
        if following:
            self.send(*following, handed=outcome.handed)
        return outcome

    def never_left(self) -> list[int]:
        """The ids of rows still waiting (stopping, or a pause while paced): the caller
        gives them back. Only once every part is recorded."""
        ids = [r.id for first, last in self.waiting for r in self.batch.rows[first:last]]
        self.waiting = []
        return ids
