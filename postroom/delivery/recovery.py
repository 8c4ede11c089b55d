"""Recovering the rows of workers that died: from their journal when it can be trusted.

A dead worker's rows in state `sending` are settled here, by whichever worker
runs its maintenance first:

- rows it had claimed but never handed to a transport go back to pending
  (nothing left the machine), except the one whose message its journal says
  was being built when it died: that row's `crashes` goes up, and from the
  second death each spends an attempt (retry, then failed), so a row that
  kills the process cannot take workers down for ever while a healthy
  worker's SIGKILL spends nothing;
- rows it had handed over, when its journal (`delivery.journal`) is readable
  and trusted (same machine, same boot, writer gone): no dot written → pending;
  dot and reply → the reply's outcome, recorded as the worker would have
  (`results.record`); dot without a reply → in doubt. A row handed to the local
  outbox is sent when the outbox holds its message (the outbox's commit is its
  "dot and reply" at once), else pending;
- rows it had handed over, when there is no trusted journal (another machine,
  a power loss or kernel crash since, a journal that could not be written):
  in doubt, since any of them may have been accepted.

`ledger.claim`/`hand_over` stay the only ways rows enter `sending`.
"""

import socket
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from postroom.campaigns.models import Campaign
from postroom.delivery import results
from postroom.delivery import texts as T
from postroom.delivery.journal import BUSY, DeadJournal, open_dead
from postroom.delivery.ledger import Claimed, dead_workers
from postroom.delivery.models import Delivery, OutboxMessage, Worker
from postroom.mail.smtp import ACCEPTED, SendResult

PENDING, SENDING, IN_DOUBT = Delivery.State.PENDING, Delivery.State.SENDING, Delivery.State.IN_DOUBT
OUTBOX_REPLY = "250 stored in the outbox"


@dataclass
class Recovered:
    requeued: int = 0  # back to pending: never handed over, or its dot never written
    in_doubt: int = 0  # maybe accepted (pending again under the resend policy)
    settled: int = 0  # the journal (or the outbox) held the outcome: recorded as it was
    suspected: int = 0  # being built when its worker died for the second time or more

    def message(self) -> str:
        """The event: each count that is not zero, as a chain of templates (delivery.texts)."""
        more = ""
        for count, piece in (
            (self.suspected, T.RECOVERED_SPENT),
            (self.settled, T.RECOVERED_SETTLED),
            (self.in_doubt, T.RECOVERED_IN_DOUBT),
        ):
            if count:
                more = piece % {"count": count, "more": more}
        return T.RECOVERED % {"count": self.requeued, "more": more}


def journal_dir() -> Path:
    return Path(settings.POSTROOM_JOURNAL_DIR)


def _host(worker_id: str) -> str:
    return worker_id.rsplit(":", 2)[0]


def reclaim(campaign_ids: list[int]) -> dict[int, Recovered]:
    """Recover rows held by dead workers or expired leases, per campaign."""
    if not campaign_ids:
        return {}
    now = timezone.now()
    dead = set(dead_workers(now))
    stuck = Delivery.objects.filter(
        Q(lease_until__lt=now) | Q(worker__in=dead), campaign_id__in=campaign_ids, state=SENDING
    )
    holders = set(stuck.values_list("worker", flat=True).distinct())
    host, directory = socket.gethostname(), journal_dir()
    journals: dict[str, DeadJournal] = {}
    busy: set[str] = set()
    for worker_id in sorted(holders | dead):
        if _host(worker_id) != host:
            continue
        found = open_dead(directory, worker_id)
        if found == BUSY:
            busy.add(worker_id)  # still writing (hung, not dead), or being recovered now
        elif isinstance(found, DeadJournal):
            journals[worker_id] = found
    outcome: dict[int, Recovered] = {}
    try:
        with transaction.atomic():
            # A busy journal's rows wait for their lease: its writer may still send them.
            rows = stuck.exclude(Q(worker__in=busy) & Q(lease_until__gte=now))
            if holders:
                campaigns = Campaign.objects.filter(id__in=campaign_ids).only(
                    "id", "started_at", "sender_id", "in_doubt_policy"
                )
                for campaign in campaigns:
                    done = _recover(campaign, rows.filter(campaign_id=campaign.pk), journals)
                    if done.requeued or done.in_doubt or done.settled or done.suspected:
                        outcome[campaign.pk] = done
            Worker.objects.filter(id__in=dead - busy).delete()
    except BaseException:
        for journal in journals.values():
            journal.release()
        raise
    # Only now that the verdicts are committed may the journals go.
    for journal in journals.values():
        journal.remove()
    return outcome


def _recover(campaign: Campaign, rows, journals: dict[str, DeadJournal]) -> Recovered:
    now = timezone.now()
    found = Recovered()
    for worker_id, journal in journals.items():
        if journal.replay.trusted and journal.replay.building is not None:
            found.suspected += _charge(campaign, rows, worker_id, journal.replay.building)
    found.requeued = rows.filter(handed_at__isnull=True).update(
        state=PENDING, worker="", lease_until=None, updated_at=now
    )
    resend = campaign.in_doubt_policy == Campaign.InDoubtPolicy.RESEND
    handed = rows.filter(handed_at__isnull=False)
    doubtful = handed
    for worker_id, journal in journals.items():
        replay = journal.replay
        if not replay.trusted:
            continue
        doubtful = doubtful.exclude(worker=worker_id)
        mine = list(
            handed.filter(worker=worker_id).values_list("id", "subscriber_id", "email", "attempts")
        )
        if not mine:
            continue
        answered, maybe, silent = [], [], []
        for row in mine:
            key = row[0]
            if key in replay.replies:
                answered.append((Claimed(*row), replay.replies[key]))
            elif key in replay.dots:
                maybe.append(key)
            else:
                silent.append(key)
        answered += _in_outbox(campaign.pk, silent, replay.message_ids)
        stored = {claimed.id for claimed, _ in answered}
        silent = [key for key in silent if key not in stored]
        if answered:
            results.record(
                campaign.pk,
                campaign.started_at,
                campaign.sender_id,
                worker_id,
                [claimed for claimed, _ in answered],
                [result for _, result in answered],
                {key: replay.message_ids.get(key, "") for key in stored},
                resend,
            )
            found.settled += len(answered)
        found.requeued += (
            Delivery.objects.filter(id__in=silent, state=SENDING, worker=worker_id).update(
                state=PENDING, worker="", lease_until=None, handed_at=None, updated_at=now
            )
            if silent
            else 0
        )
        found.in_doubt += _doubt(
            Delivery.objects.filter(id__in=maybe, state=SENDING, worker=worker_id), resend, now
        )
    found.in_doubt += _doubt(doubtful, resend, now)
    return found


def _charge(campaign: Campaign, rows, worker_id: str, key: int) -> int:
    """The worker died while building row `key`: count it; from the second time on, an
    attempt is spent as for any unexpected error on a row. 1 if an attempt was spent."""
    row = (
        rows.filter(id=key, worker=worker_id, handed_at__isnull=True)
        .values_list("id", "subscriber_id", "email", "attempts", "crashes")
        .first()
    )
    if row is None:
        return 0
    crashes = row[4] + 1
    Delivery.objects.filter(id=key).update(crashes=crashes)
    if crashes < 2:
        return 0  # once is what any SIGKILL looks like; the row goes back to the queue
    text = f"the worker process died while building this message ({crashes} times)"
    results.record_errors(campaign, worker_id, [(Claimed(*row[:4]), text)])
    return 1


def _doubt(rows, resend: bool, now) -> int:
    """Rows whose dot went out unanswered. Held rows keep `handed_at` and `worker`: what
    the operator needs to look the message up in the provider's logs."""
    if resend:
        return rows.update(
            state=PENDING,
            worker="",
            lease_until=None,
            handed_at=None,
            updated_at=now,
            error=T.ROW_DOUBT,
        )
    return rows.update(state=IN_DOUBT, lease_until=None, updated_at=now, error=T.ROW_DOUBT)


def _in_outbox(
    campaign_id: int, keys: list[int], message_ids: dict[int, str]
) -> list[tuple[Claimed, SendResult]]:
    """Rows among `keys` whose message the local outbox holds: it committed them, so they
    were sent (the Message-ID is one per campaign and recipient)."""
    wanted = {message_ids[key]: key for key in keys if message_ids.get(key)}
    if not wanted:
        return []
    stored = set(
        OutboxMessage.objects.filter(
            campaign_id=campaign_id, message_id__in=list(wanted)
        ).values_list("message_id", flat=True)
    )
    keys_found = [wanted[mid] for mid in stored]
    found = Delivery.objects.filter(id__in=keys_found).values_list(
        "id", "subscriber_id", "email", "attempts"
    )
    return [(Claimed(*row), SendResult(row[0], ACCEPTED, 250, OUTBOX_REPLY)) for row in found]
