"""Building the ledger and moving its rows: claim, hand over, release (recovery: `recovery`).

Every function here is one or two set-based statements; nothing loops over
recipients in Python. The only PostgreSQL-specific path is the keyset claim
with `FOR UPDATE SKIP LOCKED`, behind `connection.vendor` (see docs/delivery.md).
"""

import itertools
import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import QuerySet
from django.db.models.fields.json import KT
from django.utils import timezone

from postroom.audience.eligibility import mailable_subscribers
from postroom.campaigns.models import Campaign
from postroom.delivery.models import Delivery, Worker

TABLE = Delivery._meta.db_table
PENDING, SENDING = Delivery.State.PENDING, Delivery.State.SENDING

# A live worker renews its leases with every heartbeat; a lease only runs out
# when its worker is gone (or hung) for this long.
LEASE = timedelta(seconds=60)
# A worker whose heartbeat is older than this is taken for dead.
WORKER_STALE = timedelta(seconds=20)


@dataclass(slots=True)
class Claimed:
    id: int
    subscriber_id: int | None
    email: str
    attempts: int


Narrower = Callable[[Campaign, QuerySet], QuerySet]
# Apps that send a campaign to part of its audience (an A/B test's variants and its
# rest, postroom.abtests) register here in their AppConfig.ready, so this module
# knows none of them. Each returns the queryset unchanged for other campaigns.
_narrowers: list[Narrower] = []


def narrow_with(narrower: Narrower) -> None:
    if narrower not in _narrowers:
        _narrowers.append(narrower)


def recipients_queryset(campaign: Campaign):
    """Who the campaign goes to now, as the audience app defines it (audience.eligibility)."""

    lists = list(campaign.lists.all())
    recipients = mailable_subscribers(lists, campaign.segment)
    for narrower in _narrowers:
        recipients = narrower(campaign, recipients)
    return recipients


def build(campaign: Campaign) -> int:
    """Insert one pending row per recipient with one INSERT…SELECT; the number of rows.

    Runs inside the caller's transaction (the one that marks the campaign running),
    so a start either creates the whole ledger or nothing. A campaign with a send
    window also keeps each reader's `timezone` attribute (the campaign's zone when
    there is none); one without leaves `zone` empty and costs what it always did.

    Rows are numbered in the audience's order (subscriber id): ledger order is the
    order recipients are claimed and sent in and the order an error threshold reads
    them in, so it must not follow whatever order the database's plan produced (on
    PostgreSQL a hash join's, which changes with the tables' statistics).
    """
    window = campaign.send_window()
    qs = recipients_queryset(campaign).order_by()
    if window.limited:
        qs = qs.annotate(reader_zone=KT("attributes__timezone"))
        sql, params = qs.values("id", "email", "reader_zone").query.sql_with_params()
        columns, values = ", zone", ", SUBSTR(COALESCE(NULLIF(TRIM(r.reader_zone), ''), %s), 1, 64)"
        extra = [window.fallback]
    else:
        sql, params = qs.values("id", "email").query.sql_with_params()
        columns, values, extra = "", "", []
    insert = (
        f"INSERT INTO {TABLE} (campaign_id, subscriber_id, email, state, attempts, worker,"
        f" reply, message_id, error{columns})"
        f" SELECT %s, r.id, r.email, %s, 0, '', '', '', ''{values} FROM ({sql}) r ORDER BY r.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(insert, [campaign.pk, PENDING, *extra, *params])
        return cursor.rowcount


def zones(campaign_id: int) -> list[str]:
    """The distinct reader zones of a windowed campaign's ledger (once, at the start)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT zone FROM {TABLE} WHERE campaign_id = %s AND zone <> ''",
            [campaign_id],
        )
        return sorted(row[0] for row in cursor.fetchall())


# -- claiming ---------------------------------------------------------------


def claim(
    campaign_id: int,
    count: int,
    worker_id: str,
    after_id: int = 0,
    zones: Sequence[str] | None = None,
) -> list[Claimed]:
    """Lease up to `count` pending rows of a campaign to this worker, lowest ids first.

    `after_id` is the worker's keyset cursor (PostgreSQL): rows below it were
    already claimed, so the scan starts past the dead index entries they left.
    `zones`: only rows of these reader zones (a send window; None: any row).
    """
    if count <= 0 or (zones is not None and not zones):
        return []
    now = timezone.now()
    lease = now + LEASE
    returning = "RETURNING id, subscriber_id, email, attempts"
    where, params = _pending(campaign_id, count, after_id, zones)
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"WITH picked AS (SELECT id FROM {TABLE} WHERE {where}"
                " ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED)"
                f" UPDATE {TABLE} d SET state = %s, worker = %s, lease_until = %s,"
                " handed_at = NULL, updated_at = %s FROM picked WHERE d.id = picked.id"
                f" {returning.replace('id,', 'd.id,', 1)}",
                [*params, count, SENDING, worker_id, lease, now],
            )
        else:
            # SQLite: the IMMEDIATE transaction holds the write lock, so the
            # sub-select and the update see the same rows.
            cursor.execute(
                f"UPDATE {TABLE} SET state = %s, worker = %s, lease_until = %s,"
                f" handed_at = NULL, updated_at = %s WHERE id IN (SELECT id FROM {TABLE}"
                f" WHERE {where} ORDER BY id LIMIT %s) {returning}",
                [SENDING, worker_id, lease, now, *params, count],
            )
        rows = cursor.fetchall()
    rows.sort()
    return [Claimed(*row) for row in rows]


def _pending(
    campaign_id: int, count: int, after_id: int, zones: Sequence[str] | None
) -> tuple[str, list]:
    """The WHERE of a claim: the campaign's pending rows past the cursor, in open zones.

    With zones, one arm per zone, each a range of the zone index taking at most
    `count` rows, so the claim never walks the rows of closed zones however many
    there are; the caller takes the lowest `count` ids of their union.
    """
    if zones is None:
        return "campaign_id = %s AND state = %s AND id > %s", [campaign_id, PENDING, after_id]
    arm = (
        f"SELECT id FROM (SELECT id FROM {TABLE} WHERE campaign_id = %s AND zone = %s"
        " AND state = %s AND id > %s ORDER BY id LIMIT %s) z{n}"
    )
    arms, params = [], []
    for n, zone in enumerate(zones):
        arms.append(arm.format(n=n))
        params += [campaign_id, zone, PENDING, after_id, count]
    # State again outside: PostgreSQL re-checks it on each row it locks.
    return f"id IN ({' UNION ALL '.join(arms)}) AND state = %s", [*params, PENDING]


def promote_due_retries(campaign_id: int) -> int:
    """Retry rows whose back-off is over become pending again, so claims see them."""
    return Delivery.objects.filter(
        campaign_id=campaign_id, state=Delivery.State.RETRY, next_attempt_at__lte=timezone.now()
    ).update(state=PENDING)


def hand_over(ids: list[int], worker_id: str) -> list[int]:
    """Mark rows as possibly on the wire, just before the transport gets them.

    This commit is what separates "claimed" from "in doubt" after a crash.
    Returns the ids that are still this worker's: a row recovered by another
    worker meanwhile (this one was taken for dead) must not be sent from here.
    """
    if not ids:
        return []
    with transaction.atomic():
        return mark_handed(ids, worker_id, timezone.now())


def mark_handed(ids: list[int], worker_id: str, now: datetime) -> list[int]:
    """hand_over() inside the caller's transaction.

    Plain SQL: it runs for every part of 50, and Django builds an `id IN (…)` at ~1 µs
    an id. The time is adapted as the ORM stores it, so the check below finds it.
    """
    marks = ", ".join(["%s"] * len(ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {TABLE} SET handed_at = %s WHERE id IN ({marks})"
            " AND state = %s AND worker = %s",
            [connection.ops.adapt_datetimefield_value(now), *ids, SENDING, worker_id],
        )
        if cursor.rowcount == len(ids):
            return ids
    rows = Delivery.objects.filter(id__in=ids, state=SENDING, worker=worker_id)
    mine = set(rows.filter(handed_at=now).values_list("id", flat=True))
    return [i for i in ids if i in mine]


def release(ids: list[int], worker_id: str) -> int:
    """Give claimed rows that were never handed over back to the queue, untouched."""
    if not ids:
        return 0
    with transaction.atomic():
        return Delivery.objects.filter(
            id__in=ids, state=SENDING, worker=worker_id, handed_at__isnull=True
        ).update(state=PENDING, worker="", lease_until=None)


def renew_leases(worker_id: str, ids: list[int]) -> None:
    if ids:
        with transaction.atomic():
            Delivery.objects.filter(id__in=ids, state=SENDING, worker=worker_id).update(
                lease_until=timezone.now() + LEASE
            )


# -- workers and recovery ---------------------------------------------------


_WORKERS_IN_THIS_PROCESS = itertools.count(1)


def new_worker_id() -> str:
    """host:pid:suffix, unique on this host. The counter keeps workers of one
    process apart (random bits alone collided in a long test run, and a second
    worker would then find the first one's journal lock taken); the random
    bits keep apart two processes that got the same pid across a restart."""
    number = next(_WORKERS_IN_THIS_PROCESS)
    return f"{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}{number:x}"


def heartbeat(worker_id: str, sent: int = 0) -> None:
    now = timezone.now()
    with transaction.atomic():
        updated = Worker.objects.filter(id=worker_id).update(last_seen=now, sent=sent)
        if not updated:
            host, pid, _ = worker_id.rsplit(":", 2)
            Worker.objects.create(
                id=worker_id, host=host, pid=int(pid), started_at=now, last_seen=now, sent=sent
            )


def forget_worker(worker_id: str) -> None:
    with transaction.atomic():
        Worker.objects.filter(id=worker_id).delete()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def dead_workers(now: datetime | None = None) -> list[str]:
    """Workers whose heartbeat stopped, or (on this host) whose process is gone."""
    now = now or timezone.now()
    host = socket.gethostname()
    dead = []
    for worker_id, worker_host, pid, last_seen in Worker.objects.values_list(
        "id", "host", "pid", "last_seen"
    ):
        if last_seen < now - WORKER_STALE or (worker_host == host and not _pid_alive(pid)):
            dead.append(worker_id)
    return dead
