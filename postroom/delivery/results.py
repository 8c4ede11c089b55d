"""Recording what happened to a batch: one transaction, a few set-based statements.

Outcomes (from the SMTP client's classification):

- accepted → sent, with the server's reply and the Message-ID;
- permanent, the recipient's fault (5xx to RCPT/DATA) → failed with the reply;
- temporary, the recipient's (4xx) → retry with exponential back-off, then failed
  once the attempts or the age run out;
- the sender's or the connection's fault (refused, TLS, auth, timeout, 421,
  dropped) → back to pending without spending an attempt; the sender waits
  (delivery.waiting);
- the whole body went out but no reply came → in doubt (or pending under the
  campaign's "resend" policy), since the server may have kept it.
"""

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from postroom.campaigns.models import Campaign
from postroom.delivery import rejections
from postroom.delivery import texts as T
from postroom.delivery.ledger import TABLE, Claimed, mark_handed
from postroom.delivery.models import CampaignRun, Delivery
from postroom.mail.smtp import ACCEPTED, ERROR, PERMANENT, SendResult
from postroom.webhooks.events import emit_many

State = Delivery.State

RATE_WINDOW = 10.0  # seconds over which CampaignRun.rate is measured


def max_attempts() -> int:
    return getattr(settings, "POSTROOM_MAX_ATTEMPTS", 6)


def retry_delay(attempt: int) -> timedelta:
    """1, 2, 4, 8... minutes by default, capped at an hour."""
    base = getattr(settings, "POSTROOM_RETRY_BASE_SECONDS", 60.0)
    return timedelta(seconds=min(base * 2 ** max(attempt - 1, 0), 3600.0))


def max_retry_age() -> timedelta:
    """How long a recipient deferred (4xx) is retried, from its first deferral."""
    return timedelta(seconds=getattr(settings, "POSTROOM_MAX_RETRY_AGE_SECONDS", 3 * 86400))


@dataclass
class Outcome:
    """What a flush did, for the worker's error threshold and sender health."""

    sent: int = 0
    failed: int = 0  # permanent, the recipient's fault
    retry: int = 0
    requeued: int = 0  # sender trouble: back to pending, no attempt spent
    in_doubt: int = 0
    sender_error: str = ""  # the last sender-level error, when no message got through
    failures: list[bool] = field(default_factory=list)  # per final verdict: True = failed
    handed: list[int] = field(default_factory=list)  # ids of the next part, now on the wire


def _text(result: SendResult) -> str:
    return (result.message or result.reply or result.outcome)[:1000]


def record(
    campaign_id: int,
    started_at: datetime | None,
    sender_id: int | None,
    worker_id: str,
    rows: list[Claimed],
    results: list[SendResult],
    message_ids: dict[int, str],
    resend_in_doubt: bool,
    hand_over: list[int] | None = None,
) -> Outcome:
    """Write the results of one part; `results[i].key` is the ledger id of a row in `rows`.

    `hand_over` are the ids of the next part, marked as handed over in the same commit.
    """
    now = timezone.now()
    by_id = {row.id: row for row in rows}
    sent, failed, retry, requeue, doubt = [], [], [], [], []
    rejected: list[tuple[Claimed, SendResult, str]] = []  # permanent: delivery.rejections
    outcome = Outcome()
    # Retry age counts from each row's first deferral, never from the campaign's
    # start: a 35/hour send runs for days, and a sender outage costs no attempts.
    deferred = _deferred_since([r.key for r in results if _temporary(r)])
    for result in results:
        row = by_id[result.key]
        if result.outcome == ACCEPTED:
            sent.append((result.reply[:1000], message_ids.get(row.id, ""), row.id))
            outcome.failures.append(False)
        elif result.maybe_delivered:
            doubt.append((_text(result), row.id))
        elif result.sender_error:
            requeue.append((_text(result), row.id))
            outcome.sender_error = _text(result)
        elif result.outcome == PERMANENT:
            failed.append((result.reply[:10000], _text(result), row.id))
            outcome.failures.append(True)
            rejected.append((row, result, message_ids.get(row.id, "")))
        else:  # temporary for this recipient, or an error without a verdict
            attempt = row.attempts + 1
            since = deferred.get(row.id)
            if attempt >= max_attempts() or (since is not None and now - since > max_retry_age()):
                note = f"gave up after {attempt} attempts: {_text(result)}"
                failed.append((result.reply[:10000], note[:1000], row.id))
                outcome.failures.append(True)
            else:
                retry.append(
                    (now + retry_delay(attempt), result.reply[:10000], _text(result), row.id)
                )
    if outcome.sender_error and sent:
        outcome.sender_error = ""  # the server works; those were passing hiccups

    with transaction.atomic(), connection.cursor() as cursor:
        if sent:
            _bulk_update(
                cursor,
                worker_id,
                f"state = '{State.SENT}', sent_at = %s, sender_id = %s, reply = v.reply,"
                " message_id = v.message_id, attempts = attempts + 1, error = '',"
                " lease_until = NULL, updated_at = %s",
                [now, sender_id, now],
                ("reply", "message_id"),
                [(i, r, m) for r, m, i in sent],
            )
        if failed:
            _bulk_update(
                cursor,
                worker_id,
                f"state = '{State.FAILED}', sender_id = %s, reply = v.reply, error = v.error,"
                " attempts = attempts + 1, lease_until = NULL, updated_at = %s",
                [sender_id, now],
                ("reply", "error"),
                [(i, r, e) for r, e, i in failed],
            )
            # In the same commit: one query and one insert for the whole part.
            emit_many(
                "delivery.failed",
                [
                    {"campaign_id": campaign_id, "email": by_id[i].email, "error": e, "reply": r}
                    for r, e, i in failed
                ],
            )
        if retry:
            _bulk_update(
                cursor,
                worker_id,
                f"state = '{State.RETRY}', next_attempt_at = v.next_at, sender_id = %s,"
                " reply = v.reply, error = v.error, attempts = attempts + 1,"
                " deferred_since = COALESCE(deferred_since, %s),"
                " lease_until = NULL, worker = '', updated_at = %s",
                [sender_id, now, now],
                ("next_at", "reply", "error"),
                [(i, t, r, e) for t, r, e, i in retry],
            )
        if requeue:
            _bulk_update(
                cursor,
                worker_id,
                f"state = '{State.PENDING}', error = v.error, worker = '', handed_at = NULL,"
                " lease_until = NULL, updated_at = %s",
                [now],
                ("error",),
                [(i, e) for e, i in requeue],
            )
        if doubt:
            state = State.PENDING if resend_in_doubt else State.IN_DOUBT
            _bulk_update(
                cursor,
                worker_id,
                f"state = '{state}', sender_id = %s, error = v.error, worker = '',"
                " handed_at = NULL, lease_until = NULL, attempts = attempts + 1, updated_at = %s",
                [sender_id, now],
                ("error",),
                [(i, (T.ROW_IN_DOUBT % {"reply": e})[:1000]) for e, i in doubt],
            )
        if hand_over:
            # The next part goes on the wire in the same commit (one commit per part).
            outcome.handed = mark_handed(hand_over, worker_id, now)
        _progress(campaign_id, len(sent))
    outcome.sent, outcome.failed, outcome.retry = len(sent), len(failed), len(retry)
    outcome.requeued, outcome.in_doubt = len(requeue), len(doubt)
    if rejected:  # after the commit: bounces, suppression, the sender's policy count
        rejections.act(campaign_id, sender_id, rejected)
    return outcome


def _temporary(result: SendResult) -> bool:
    """A verdict that retries the row later (the else branch of `record`)."""
    return not (
        result.outcome in (ACCEPTED, PERMANENT) or result.maybe_delivered or result.sender_error
    )


def _deferred_since(ids: list) -> dict[int, datetime]:
    """When each of these rows was first deferred (only rows deferred before)."""
    if not ids:
        return {}
    rows = Delivery.objects.filter(id__in=ids, deferred_since__isnull=False)
    return {pk: since for pk, since in rows.values_list("id", "deferred_since") if since}


def _bulk_update(
    cursor, worker_id: str, assignments: str, params: list, columns: tuple, rows: list[tuple]
) -> None:
    """One UPDATE … FROM a VALUES list for many rows, each with its own values.

    Portable: PostgreSQL and SQLite (3.33+) both take `WITH v(…) AS (VALUES …) UPDATE … FROM v`.
    Only rows this worker still holds are touched: if it was taken for dead and its rows
    were recovered meanwhile, the recovery's verdict stands.
    """
    names = ", ".join(("id", *columns))
    one = "(" + ", ".join(["%s"] * (len(columns) + 1)) + ")"
    values = ", ".join([one] * len(rows))
    cursor.execute(
        f"WITH v({names}) AS (VALUES {values}) UPDATE {TABLE} SET {assignments} FROM v"
        f" WHERE {TABLE}.id = v.id AND {TABLE}.state = '{State.SENDING}'"
        f" AND {TABLE}.worker = %s",
        [*(value for row in rows for value in row), *params, worker_id],
    )


def record_skipped(worker_id: str, skipped: dict[int, str]) -> None:
    """Rows whose recipient left since the start (id → reason), at claim time."""
    if not skipped:
        return
    now = timezone.now()
    with transaction.atomic():
        by_reason: dict[str, list[int]] = {}
        for row_id, reason in skipped.items():
            by_reason.setdefault(reason, []).append(row_id)
        for reason, ids in by_reason.items():
            Delivery.objects.filter(id__in=ids, state=State.SENDING, worker=worker_id).update(
                state=State.SKIPPED, error=reason, lease_until=None, updated_at=now
            )


def record_failed(worker_id: str, errors: dict[int, str]) -> None:
    """Rows that could not even be built (a template error for this recipient)."""
    now = timezone.now()
    with transaction.atomic():
        for row_id, error in errors.items():
            Delivery.objects.filter(id=row_id, state=State.SENDING, worker=worker_id).update(
                state=State.FAILED, error=error[:1000], lease_until=None, updated_at=now
            )


def record_errors(campaign: Campaign, worker_id: str, errors: list[tuple[Claimed, str]]) -> None:
    """Rows whose processing raised an unexpected error: each spends an attempt, like
    a temporary rejection (retry with back-off), and fails once the attempts run out."""
    record(
        campaign.pk,
        campaign.started_at,
        campaign.sender_id,
        worker_id,
        [row for row, _ in errors],
        [SendResult(row.id, ERROR, stage="build", message=text) for row, text in errors],
        {},
        resend_in_doubt=False,
    )


def _progress(campaign_id: int, sent: int) -> None:
    """Move the campaign's running figures: progress time, total and rate (portable SQL)."""
    now = time.time()
    table = CampaignRun._meta.db_table
    rolled = "%s - rate_since >= %s"
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET"
            f" rate = CASE WHEN {rolled} THEN (sent_total + %s - rate_base) / (%s - rate_since)"
            "  ELSE rate END,"
            f" rate_base = CASE WHEN {rolled} THEN sent_total + %s ELSE rate_base END,"
            f" rate_since = CASE WHEN {rolled} THEN %s ELSE rate_since END,"
            " sent_total = sent_total + %s, last_progress = %s"
            " WHERE campaign_id = %s",
            [
                now, RATE_WINDOW, sent, now,
                now, RATE_WINDOW, sent,
                now, RATE_WINDOW, now,
                sent, now, campaign_id,
            ],
        )  # fmt: skip
