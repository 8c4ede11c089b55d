"""The delivery worker: a plain loop over small steps, with the database as its queue.

    worker = DeliveryWorker()
    while worker.process_one_batch():   # a test drives it one step at a time
        pass
    worker.close()

One step: ask the scheduler for a grant, claim and render that many rows
while the previous batch is on the wire, then finish the previous batch and
submit the new one. A batch goes to the transport in parts: each part that
comes back is recorded in one transaction, which also marks the next part as
handed over, and this happens during rendering too, so the transport never
runs dry while the worker renders. Results are recorded within milliseconds
of a part's return, and at most PARTS_IN_FLIGHT parts per worker are ever
with the transport unrecorded. Of those, the worker's journal (`journal`)
tells whoever recovers a killed worker which ones had their final dot
written: at most one per open SMTP connection is then in doubt.
"""

import logging
import signal
import sys
import time
from collections import deque
from dataclasses import dataclass, field

from django.db import close_old_connections

from postroom import background
from postroom.alerts import watch
from postroom.alerts.services import Kind as AlertKind
from postroom.alerts.services import notify
from postroom.campaigns import lifecycle
from postroom.campaigns.models import Campaign
from postroom.campaigns.services import due_campaigns
from postroom.campaigns.spec import compiled_for
from postroom.delivery import (
    autopause,
    control,
    events,
    ledger,
    outgoing,
    recovery,
    results,
    scheduler,
    waiting,
)
from postroom.delivery.batches import Batch, CampaignContext, prepare
from postroom.delivery.journal import WorkerJournal
from postroom.delivery.models import Delivery, Sender
from postroom.delivery.transports import Transport, transport_for
from postroom.delivery.transports.base import done
from postroom.errors import PostroomError
from postroom.imports.services import run_pending
from postroom.mail.smtp import CONNECT, DATA, SmtpError
from postroom.tracking import mailboxes

log = logging.getLogger("postroom.delivery")

HEARTBEAT_SECONDS = 1.0
MAINTENANCE_SECONDS = 2.0
# Messages per transport submission, each recorded as soon as it completes;
# at most PARTS_IN_FLIGHT of them are with the transport at any time.
PART_SIZE = 50
PARTS_IN_FLIGHT = 2
# How long this thread may hold the GIL while another thread waits for it. The
# SMTP pool's thread needs it for a moment at each server reply; with Python's
# default of 5 ms its connections sat idle while this thread rendered, and a
# 30,000-message send waited 2 s for parts to come back. At 0.5 ms it waits
# none and sends 7% faster, for a little more switching.
SWITCH_INTERVAL = 0.0005
OPEN_STATES = (Delivery.State.PENDING, Delivery.State.SENDING, Delivery.State.RETRY)


@dataclass
class Flight:
    """A batch being sent: parts with the transport (futures), and parts still waiting."""

    batch: Batch
    transport: Transport
    parts: deque = field(default_factory=deque)  # (future, [Claimed], journal token), in order
    waiting: list[tuple[int, int]] = field(default_factory=list)  # slices not yet handed over
    submitted: int = 0


class DeliveryWorker:
    def __init__(self, worker_id: str | None = None) -> None:
        self.id = worker_id or ledger.new_worker_id()
        self.stopping = False
        self.sent = 0
        self._transports: dict[int | None, tuple[object, Transport]] = {}
        self._contexts: dict[tuple[int, int | None], CampaignContext] = {}
        self._cursors: dict[int, int] = {}
        self._failing: set[int] = set()  # senders waiting (a success ends it), from maintain
        self._flight: Flight | None = None
        self._prepared: Batch | None = None
        self._last_heartbeat = 0.0
        self._last_maintenance = 0.0
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL))
        self.journal = WorkerJournal(recovery.journal_dir(), self.id)
        ledger.heartbeat(self.id)

    # -- the loop -------------------------------------------------------------

    def run(self, until_idle: bool = False) -> None:
        """Send until SIGTERM/SIGINT (or, with until_idle, until no campaign has work)."""
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)
        }
        # Sign-ups and outgoing webhooks, in their own thread: never in the send path.
        side = background.SideWork()
        side.start()
        try:
            while not self.stopping:
                if self.process_one_batch():
                    continue
                if self.run_background_task():
                    continue
                if until_idle:
                    self.maintain(force=True)  # finishes what the last batch completed
                    if not self.has_work():
                        break
                scheduler.sleep_until_work(1.0)
        finally:
            side.stop()
            self.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _on_signal(self, signum: int, frame: object) -> None:
        log.info("worker %s: stopping after the batch in flight", self.id)
        self.stopping = True

    def process_one_batch(self) -> bool:
        """One step; True when it found work (so the caller loops again at once)."""
        self.maintain()
        batch = None if self.stopping else self._next_batch()
        worked = self._flight is not None
        self._prepared = batch  # its leases are renewed while the flight completes
        self.complete_flight()
        self._prepared = None
        if batch is not None:
            worked = True
            self._launch(batch)
        return worked

    def run_background_task(self) -> bool:
        """Run one pending import or poll one due bounce mailbox, only while idle: nothing
        is claimed or in flight then, so neither can hold recipients back or let their
        leases run out."""
        if self._flight is not None:
            return False

        return run_pending() or mailboxes.poll_due()

    def has_work(self) -> bool:
        if due_campaigns().exists():
            return True
        running = Campaign.objects.filter(status=Campaign.Status.RUNNING).values("id")
        return Delivery.objects.filter(campaign_id__in=running, state__in=OPEN_STATES).exists()

    def close(self) -> None:
        """Record what is in flight, give back what was never sent, and leave."""
        self.complete_flight()
        for _, transport in self._transports.values():
            try:
                transport.close()
            except Exception:  # closing a broken connection must not hide the exit
                log.exception("closing a transport")
        self._transports.clear()
        self.journal.close()  # every part is recorded: nothing left to replay
        ledger.forget_worker(self.id)

    # -- housekeeping -----------------------------------------------------------

    def maintain(self, force: bool = False) -> None:
        now = time.time()
        if force or now - self._last_heartbeat >= HEARTBEAT_SECONDS:
            self._last_heartbeat = now
            close_old_connections()
            ledger.heartbeat(self.id, self.sent)
            self._renew_leases()
        if not force and now - self._last_maintenance < MAINTENANCE_SECONDS:
            return
        self._last_maintenance = now
        self._start_due_campaigns()
        outgoing.send_due()  # test sends that waited for their sender's slot
        running = list(
            Campaign.objects.filter(status=Campaign.Status.RUNNING).values_list("id", flat=True)
        )
        active = running + list(
            Campaign.objects.filter(
                status__in=(Campaign.Status.PAUSED, Campaign.Status.CANCELLED),
                deliveries__state=Delivery.State.SENDING,
            )
            .distinct()
            .values_list("id", flat=True)
        )
        for campaign_id, recovered in recovery.reclaim(active).items():
            self._cursors.pop(campaign_id, None)
            events.record(campaign_id, events.Kind.RECOVERED, recovered.message())
            notify(
                AlertKind.WORKER_DIED,
                "worker_died",
                "a worker stopped without finishing its work",
                f"Campaign #{campaign_id}: {recovered.message()}; another worker carries on.",
                campaign_id=campaign_id,
            )
        for campaign_id in running:
            if ledger.promote_due_retries(campaign_id):
                self._cursors.pop(campaign_id, None)
            control.finish_if_done(campaign_id)
        for campaign_id in (
            Campaign.objects.filter(
                status=Campaign.Status.CANCELLED, deliveries__state=Delivery.State.PENDING
            )
            .values_list("id", flat=True)
            .distinct()
        ):
            control.skip_unsent(campaign_id)
        watch.check_waiting_senders()
        # Which senders are waiting, so a success ends their wait without a statement per
        # part; the scheduler reads the back-off itself, from the database, every grant.
        self._failing = set(
            Sender.objects.filter(failing_since__isnull=False).values_list("id", flat=True)
        )

    def _start_due_campaigns(self) -> None:
        for campaign in due_campaigns():
            try:
                control.start(campaign)
            except PostroomError as exc:
                reason = f"could not start at the scheduled time: {exc}"
                lifecycle.move(campaign.pk, "start_failed", status_reason=reason[:500])
                events.record(campaign.pk, events.Kind.PAUSED, reason)

    # -- one batch --------------------------------------------------------------

    def _next_batch(self) -> Batch | None:
        """Claim and render the next batch the scheduler grants, or None."""
        seen: set[int] = set()
        while True:
            grant = scheduler.next_grant(self.id)
            if grant is None or grant.campaign_id in seen:
                if grant is not None:
                    scheduler.release(grant, grant.count)
                return None
            seen.add(grant.campaign_id)
            context = self._context(grant.campaign_id, grant.sender_id)
            if context is None:
                scheduler.release(grant, grant.count)
                continue
            cursor = self._cursors.get(grant.campaign_id, 0)
            batch, cursor = prepare(
                grant, context, self.id, cursor, self.advance_flight, self.journal
            )
            self._cursors[grant.campaign_id] = cursor
            if batch.claimed == 0:
                scheduler.release(grant, grant.count)
                continue
            if not batch.messages:  # everyone in it was skipped or failed to build
                scheduler.release(grant, grant.count)
            return batch

    def _context(self, campaign_id: int, sender_id: int | None) -> CampaignContext | None:
        """The campaign compiled once per (id, updated_at) and sender; None if it cannot be sent.

        A pooled campaign has one context per sender of its pool: its `campaign.sender`
        is the granted one (in memory only), so the envelope, VERP, DKIM, transport and
        the recorded rows follow the sender the scheduler chose.
        """

        stamp = (
            Campaign.objects.filter(pk=campaign_id, status=Campaign.Status.RUNNING)
            .values_list("updated_at", flat=True)
            .first()
        )
        if stamp is None:
            return None
        context = self._contexts.get((campaign_id, sender_id))
        if context is not None and context.stamp == stamp:
            return context
        campaign = Campaign.objects.select_related("sender", "segment").get(pk=campaign_id)
        if campaign.sender_id != sender_id:
            # None is the local outbox.
            campaign.sender = (
                None if sender_id is None else Sender.objects.filter(pk=sender_id).first()
            )
        try:
            compiled = compiled_for(campaign)
        except PostroomError as exc:
            control.auto_pause(campaign_id, f"the campaign's message cannot be built: {exc}")
            return None
        context = CampaignContext(campaign, compiled, list(campaign.lists.all()), stamp)
        self._contexts[(campaign_id, sender_id)] = context
        return context

    def _transport(self, sender: Sender | None) -> Transport:
        key = sender.pk if sender else None
        stamp = sender.updated_at if sender else None
        cached = self._transports.get(key)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        if cached is not None:
            cached[1].close()
        transport = transport_for(sender, self.journal)
        self._transports[key] = (stamp, transport)
        return transport

    def _launch(self, batch: Batch) -> None:
        """Hand the batch to its transport: in parts, or paced by the grant's send times."""
        grant = batch.grant
        if not batch.messages:
            return
        still_running = Campaign.objects.filter(
            pk=batch.campaign_id, status=Campaign.Status.RUNNING
        ).exists()
        if not still_running or self.stopping:  # paused or cancelled while rendering
            ledger.release([r.id for r in batch.rows], self.id)
            scheduler.release(grant, grant.count)
            return
        flight = Flight(batch, self._transport(batch.context.campaign.sender))
        self._flight = flight
        times = grant.send_times
        if times is None:
            flight.waiting = [
                (first, min(first + PART_SIZE, len(batch.messages)))
                for first in range(0, len(batch.messages), PART_SIZE)
            ]
            self._pump(flight)
            return
        start = 0
        while start < len(batch.messages) and not self.stopping:
            wait = times[min(start, len(times) - 1)] - time.time()
            if wait > 0:
                self._sleep(wait)
            if self.stopping:
                break
            now = time.time()
            if start < len(times) and now > times[start] + scheduler.LATE_SECONDS:
                # Late for the slot (rate limits, R): take fresh slots for the rest.
                times = scheduler.retime(grant, start, now) or []
                if len(times) < len(batch.messages):  # no room for them now
                    ledger.release([r.id for r in batch.rows[len(times) :]], self.id)
                    del batch.rows[len(times) :], batch.messages[len(times) :]
                continue
            end = start + 1
            while end < len(batch.messages) and end < len(times) and times[end] <= now:
                end += 1
            self._submit(flight, start, end)
            start = end
        if start < len(batch.messages):  # stopping while paced: these never left
            flight.waiting = [(start, len(batch.messages))]

    def _submit(
        self, flight: Flight, first: int, last: int, handed: list[int] | None = None
    ) -> None:
        batch = flight.batch
        rows, messages = batch.rows[first:last], batch.messages[first:last]
        if handed is None:
            handed = ledger.hand_over([r.id for r in rows], self.id)
        if len(handed) != len(rows):  # some were recovered by another worker: not ours
            keep = set(handed)
            pairs = [(r, m) for r, m in zip(rows, messages, strict=True) if r.id in keep]
            rows, messages = [r for r, _ in pairs], [m for _, m in pairs]
            if not rows:
                return
        # After the hand-over's commit, before the transport: a crash in between
        # leaves rows the journal never saw leave, which go back to the queue.
        token = self.journal.handed([(r.id, batch.message_ids.get(r.id, "")) for r in rows])
        try:
            future = flight.transport.submit(messages, batch.campaign_id)
        except SmtpError as exc:  # the transport could not even start
            future = done([exc.result(m.key) for m in messages])
        except Exception as exc:  # a broken transport: nothing left, the sender is at fault
            log.exception("transport refused a part")
            error = SmtpError(CONNECT, f"the transport failed: {exc}")
            future = done([error.result(m.key) for m in messages])
        flight.parts.append((future, rows, token))
        flight.submitted += len(rows)

    def _pump(self, flight: Flight) -> None:
        """Keep a few parts with the transport: enough to keep it busy, few enough that a
        killed worker leaves only those in doubt (the rest was never handed over)."""
        while flight.waiting and len(flight.parts) < PARTS_IN_FLIGHT and not self.stopping:
            first, last = flight.waiting.pop(0)
            self._submit(flight, first, last)

    def _renew_leases(self) -> None:
        ids = [r.id for r in self._flight.batch.rows] if self._flight else []
        probing = self._flight.batch.grant if self._flight is not None else None
        if probing is not None and probing.probe and probing.sender_id is not None:
            waiting.renew_probe(probing.sender_id)
        if self._prepared is not None:
            ids += [r.id for r in self._prepared.rows]
        ledger.renew_leases(self.id, ids)

    def _sleep(self, seconds: float) -> None:
        deadline = time.time() + seconds
        while not self.stopping and (left := deadline - time.time()) > 0:
            time.sleep(min(left, 0.2))
            self.maintain()

    def advance_flight(self) -> None:
        """Record the parts already back and hand over the next ones, without waiting.

        Called while the next batch renders, so the transport always has work.
        """
        flight = self._flight
        while flight is not None and flight.parts and flight.parts[0][0].done():
            self._record_part(flight)

    def complete_flight(self) -> None:
        """Wait for each part on the wire, record its results, and hand over the next."""
        flight = self._flight
        if flight is None:
            return
        while flight.parts:
            self._record_part(flight)
        self._flight = None
        batch = flight.batch
        never_left = [r.id for first, last in flight.waiting for r in batch.rows[first:last]]
        if never_left:  # stopping: give back what was never handed over
            ledger.release(never_left, self.id)
        unused = batch.grant.count - flight.submitted
        if unused > 0:
            scheduler.release(batch.grant, unused)

    def _record_part(self, flight: Flight) -> None:
        """Wait for the oldest part, record its results and hand over the next part
        in the same commit."""
        batch = flight.batch
        campaign = batch.context.campaign
        future, rows, token = flight.parts.popleft()
        while True:
            try:
                sent_results = future.result(timeout=HEARTBEAT_SECONDS)
                break
            except TimeoutError:
                # Keep the leases alive while a slow server answers.
                ledger.heartbeat(self.id, self.sent)
                self._last_heartbeat = time.time()
                self._renew_leases()
            except Exception as exc:  # the transport broke mid-way: maybe sent, say so
                log.exception("transport failed while sending a part")
                error = SmtpError(DATA, f"the transport failed: {exc}", maybe_delivered=True)
                sent_results = [error.result(r.id) for r in rows]
                break
        following = None
        if flight.waiting and not self.stopping:
            following = flight.waiting.pop(0)
        outcome = results.record(
            batch.campaign_id,
            campaign.started_at,
            campaign.sender_id,
            self.id,
            rows,
            sent_results,
            batch.message_ids,
            campaign.in_doubt_policy == Campaign.InDoubtPolicy.RESEND,
            hand_over=[r.id for r in batch.rows[following[0] : following[1]]]
            if following
            else None,
        )
        self.journal.committed(token)
        if following:
            self._submit(flight, *following, handed=outcome.handed)
        self.sent += outcome.sent
        self._after(batch, outcome)

    def _after(self, batch: Batch, outcome: results.Outcome) -> None:
        """Sender health and the campaign's error threshold, after each recorded part."""
        campaign = batch.context.campaign
        sender_id = campaign.sender_id
        if sender_id is not None:
            if outcome.sender_error:
                self._failing.add(sender_id)
                if waiting.failed(sender_id, outcome.sender_error, probe=batch.grant.probe):
                    name = campaign.sender.name if campaign.sender else str(sender_id)
                    events.record(
                        campaign.pk,
                        events.Kind.SENDER_ERROR,
                        f"sender {name!r} cannot be reached:"
                        f" {outcome.sender_error}; waiting for it, trying again by itself",
                    )
            elif outcome.sent and (sender_id in self._failing or batch.grant.probe):
                self._failing.discard(sender_id)
                if waiting.recovered(sender_id):
                    scheduler.notify()  # every worker carries on at once
            if outcome.requeued and batch.grant.send_times is not None:
                # Those never left: their rate slots go back to the sender.
                scheduler.release(batch.grant, outcome.requeued)
        if outcome.in_doubt:
            events.record(
                campaign.pk,
                events.Kind.IN_DOUBT,
                f"{outcome.in_doubt} recipients in doubt: the server stopped answering"
                " after the message was sent",
            )
        if outcome.failed:  # only a part with permanent failures looks at the ledger
            autopause.check(campaign)
