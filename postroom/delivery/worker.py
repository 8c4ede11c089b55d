"""The delivery worker: a plain loop over small steps, with the database as its queue.

    worker = DeliveryWorker()
    while worker.process_one_batch():   # a test drives it one step at a time
        pass
    worker.close()

One step, read top to bottom in `process_one_batch`:

1. grant: the scheduler says which campaign, how many rows, when (`scheduler`);
2. claim: lease that many rows of the ledger (`batches.claim`);
3. render: build their messages (`batches.render`); it yields every few rows,
   and the worker records the parts of the previous batch that came back
   meanwhile (`advance_flight`), so the transport never runs dry;
4. record: wait for the rest of the previous batch, recording each part;
5. transport: hand the new batch over, in parts (`_send`).

The in-doubt window, from a part's hand-over to its recorded replies, belongs
to one object, `handover.HandOver`: at most PARTS_IN_FLIGHT parts per worker
are ever with the transport unrecorded, and the worker's journal tells whoever
recovers a killed worker which of those had their final dot written. A grant
ends in one place, `_give_back`: what was never handed over goes back.
"""

import logging
import signal
import sys
import time
from collections.abc import Sequence

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
    batches,
    control,
    events,
    ledger,
    outgoing,
    recovery,
    results,
    scheduler,
    waiting,
)
from postroom.delivery import texts as T
from postroom.delivery.batches import Batch, CampaignContext
from postroom.delivery.handover import HandOver
from postroom.delivery.journal import WorkerJournal
from postroom.delivery.models import Delivery, Sender
from postroom.delivery.transports import Transport, transport_for
from postroom.errors import PostroomError
from postroom.imports.services import run_pending
from postroom.storedtext import in_english
from postroom.tracking import mailboxes

log = logging.getLogger("postroom.delivery")

HEARTBEAT_SECONDS = 1.0
MAINTENANCE_SECONDS = 2.0
# How long this thread may hold the GIL while another thread waits for it. The
# SMTP pool's thread needs it for a moment at each server reply; with Python's
# default of 5 ms its connections sat idle while this thread rendered, and a
# 30,000-message send waited 2 s for parts to come back. At 0.5 ms it waits
# none and sends 7% faster, for a little more switching.
SWITCH_INTERVAL = 0.0005
OPEN_STATES = (Delivery.State.PENDING, Delivery.State.SENDING, Delivery.State.RETRY)


class DeliveryWorker:
    def __init__(self, worker_id: str | None = None) -> None:
        self.id = worker_id or ledger.new_worker_id()
        self.stopping = False
        self.sent = 0
        self._transports: dict[int | None, tuple[object, Transport]] = {}
        self._contexts: dict[tuple[int, int | None], CampaignContext] = {}
        self._cursors: dict[int, int] = {}
        self._flight: HandOver | None = None
        self._prepared: Batch | None = None
        self._last_heartbeat = 0.0
        self._last_maintenance = 0.0
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL))
        self.journal = WorkerJournal(recovery.journal_dir(), self.id)
        ledger.heartbeat(self.id)

    # -- the loop -------------------------------------------------------------

    @in_english  # what it stores (some from exceptions' messages) is English
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
        batch = None if self.stopping else self._next_batch()  # grant, claim, render
        worked = self._flight is not None
        self._prepared = batch  # its leases are renewed while the flight completes
        self.complete_flight()  # record the rest of the previous batch
        self._prepared = None
        if batch is not None:
            worked = True
            self._send(batch)
        return worked

    def run_background_task(self) -> bool:
        """Run one pending import or poll one due bounce mailbox, only while idle: nothing
        is claimed or in flight then, so neither can hold recipients back or let their
        leases run out."""
        if self._flight is not None:
            return False

        return run_pending() or mailboxes.poll_due()

    def has_work(self) -> bool:
        # The side work first, the ledger last: side work that queues mail (a sequence's
        # step) commits its rows after its own "pending" stops being true, so asked in
        # this order one of the two questions sees it (see automations.engine.pending).
        if due_campaigns().exists() or background.pending():  # e.g. a sequence's due steps
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
                T.ALERT_WORKER_DIED,
                T.ALERT_WORKER_DIED_TEXT
                % {"campaign": campaign_id, "recovered": recovered.message()},
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

    def _start_due_campaigns(self) -> None:
        for campaign in due_campaigns():
            try:
                control.start(campaign)
            except PostroomError as exc:
                reason = T.START_FAILED % {"error": exc}
                lifecycle.move(campaign.pk, "start_failed", status_reason=reason[:500])
                events.record(campaign.pk, events.Kind.PAUSED, reason)

    # -- one batch: grant → claim → render → transport → record ----------------

    def _next_batch(self) -> Batch | None:
        """Grant, claim and render the next batch, or None when no grant gives one.

        A grant that claims nothing is given back at once; a second grant for a
        campaign already tried in this step ends the search (nothing more to do now).
        """
        tried: set[int] = set()
        while (grant := scheduler.next_grant(self.id)) is not None:
            again = grant.campaign_id in tried
            tried.add(grant.campaign_id)
            batch = None if again else self._claim(grant)
            if batch is not None:
                self._render(batch)
                return batch
            self._give_back(grant, handed=0)
            if again:
                return None
        return None

    def _claim(self, grant: scheduler.Grant) -> Batch | None:
        """Lease the granted rows of a campaign that can be sent, or None."""
        context = self._context(grant.campaign_id, grant.sender_id)
        if context is None:
            return None
        cursor = self._cursors.get(grant.campaign_id, 0)
        batch, self._cursors[grant.campaign_id] = batches.claim(grant, context, self.id, cursor)
        return batch if batch.claimed else None

    def _render(self, batch: Batch) -> None:
        """Build the batch's messages; between rows, record the parts of the previous
        batch that came back and hand over its next ones, so the transport never runs dry."""
        for _ in batches.render(batch, self.id, self.journal):
            self.advance_flight()

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
            control.auto_pause(campaign_id, T.CANNOT_BUILD % {"error": exc})
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

    def _send(self, batch: Batch) -> None:
        """Hand the batch to its transport: in parts, or paced by the grant's send times."""
        grant = batch.grant
        if not (batch.messages and self._still_running(batch)) or self.stopping:
            # Nothing to send, or paused or cancelled while rendering.
            self._give_back(grant, handed=0, rows=[r.id for r in batch.rows])
            return
        flight = HandOver(
            batch, self._transport(batch.context.campaign.sender), self.id, self.journal
        )
        self._flight = flight
        times = grant.send_times
        if times is None:
            flight.in_parts()
            flight.fill()
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
                # Late for the slot: take fresh slots for the rest.
                times = scheduler.retime(grant, start, now) or []
                if len(times) < len(batch.messages):  # no room for them now
                    ledger.release([r.id for r in batch.rows[len(times) :]], self.id)
                    del batch.rows[len(times) :], batch.messages[len(times) :]
                continue
            end = start + 1
            while end < len(batch.messages) and end < len(times) and times[end] <= now:
                end += 1
            flight.send(start, end)
            start = end
        if start < len(batch.messages):  # stopping while paced: these never left
            flight.waiting = [(start, len(batch.messages))]

    def _still_running(self, batch: Batch) -> bool:
        return Campaign.objects.filter(
            pk=batch.campaign_id, status=Campaign.Status.RUNNING
        ).exists()

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

        Done between rows while the next batch renders, so the transport always has work.
        """
        flight = self._flight
        while flight is not None and flight.ready():
            self._record(flight)

    def complete_flight(self) -> None:
        """Wait for each part on the wire, record its results, then give back what the
        batch did not use: rows never handed over and the grant's unused slots."""
        flight = self._flight
        if flight is None:
            return
        while flight.parts:
            while not flight.wait(HEARTBEAT_SECONDS):
                # Keep the leases alive while a slow server answers.
                ledger.heartbeat(self.id, self.sent)
                self._last_heartbeat = time.time()
                self._renew_leases()
            self._record(flight)
        self._flight = None
        grant = flight.batch.grant
        # Requeued rows of a paced grant never left: their rate slots go back too.
        used = flight.handed - (flight.requeued if grant.send_times is not None else 0)
        self._give_back(grant, used, flight.never_left())

    def _record(self, flight: HandOver) -> None:
        """The record step: one part's replies, then sender health and error thresholds."""
        outcome = flight.record(more=not self.stopping)
        self.sent += outcome.sent
        self._after(flight.batch, outcome)

    def _give_back(self, grant: scheduler.Grant, handed: int, rows: Sequence[int] = ()) -> None:
        """The one place a grant ends: claimed rows that were never handed over go
        back to the queue, and the slots the grant did not use go back to the sender."""
        if rows:
            ledger.release(list(rows), self.id)
        if grant.count - handed > 0:
            scheduler.release(grant, grant.count - handed)

    def _after(self, batch: Batch, outcome: results.Outcome) -> None:
        """Sender health and the campaign's error threshold, after each recorded part."""
        campaign = batch.context.campaign
        sender_id = campaign.sender_id
        if sender_id is not None:
            if outcome.sender_error:
                if waiting.failed(sender_id, outcome.sender_error, probe=batch.grant.probe):
                    name = campaign.sender.name if campaign.sender else str(sender_id)
                    events.record(
                        campaign.pk,
                        events.Kind.SENDER_ERROR,
                        T.SENDER_DOWN % {"name": repr(name), "error": outcome.sender_error},
                    )
            elif outcome.sent and waiting.succeeded(sender_id, probe=batch.grant.probe):
                scheduler.notify()  # the outage is over: every worker carries on at once
        if outcome.in_doubt:
            events.record(
                campaign.pk,
                events.Kind.IN_DOUBT,
                T.IN_DOUBT % {"count": outcome.in_doubt},
            )
        if outcome.failed:  # only a part with permanent failures looks at the ledger
            control.pause_if_failing(
                campaign.pk, upto=max((row.id for row in batch.rows), default=None)
            )
