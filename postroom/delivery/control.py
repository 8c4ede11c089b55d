"""Start, pause, resume, cancel, retry-failed and test sends: what operators do to a campaign.

Settling recipients in doubt (`doubt.resolve`) uses this module's `lock`,
`requeue` and `reopen`, so a resend and a retry-failed move rows one way.

Each status change goes through `campaigns.lifecycle` (one table, one
conditional UPDATE), so two operators (or an operator and a worker) can never
both win; the loser gets a clear error. Workers re-read the status before
handing every batch to SMTP, and the scheduler is notified, so a change takes
effect within a second or two.
"""

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext

from postroom.alerts.services import Kind as AlertKind
from postroom.alerts.services import clear as clear_alert
from postroom.alerts.services import notify
from postroom.campaigns import lifecycle
from postroom.campaigns.models import Campaign
from postroom.campaigns.services import TEST_SUBJECT_PREFIX, build_test_messages
from postroom.campaigns.spec import compiled_for
from postroom.delivery import autopause, events, ledger, scheduler
from postroom.delivery import texts as T
from postroom.delivery.models import CampaignEvent, CampaignRun, Delivery
from postroom.delivery.outgoing import Outcome, send_soon
from postroom.errors import InvalidInput

Status = Campaign.Status
State = Delivery.State


def start(campaign: Campaign) -> int:
    """Build the ledger and mark the campaign running, in one transaction; the recipient count."""

    compiled_for(campaign)  # a broken template is refused before anything changes
    if not campaign.lists.exists() and campaign.segment_id is None:
        raise InvalidInput(gettext("choose at least one list or a segment before starting"))
    now = timezone.now()
    with transaction.atomic():
        lifecycle.require(campaign, "start", status_reason="", started_at=now, finished_at=None)
        count = ledger.build(campaign)
        zones = ledger.zones(campaign.pk) if campaign.send_window().limited else []
        CampaignRun.objects.update_or_create(
            campaign=campaign,
            defaults={"rate_since": now.timestamp(), "last_progress": 0.0, "zones": zones},
        )
        events.record(campaign.pk, events.Kind.STARTED, T.STARTED % {"count": count})
        if count == 0:
            _finish(campaign.pk, T.NOBODY_ELIGIBLE)
    campaign.refresh_from_db()
    scheduler.notify()
    return count


def pause(campaign: Campaign, reason: str = "") -> None:
    with transaction.atomic():
        lifecycle.require(campaign, "pause", status_reason=reason)
        events.record(campaign.pk, events.Kind.PAUSED, reason or T.PAUSED_BY_OPERATOR)
    campaign.refresh_from_db()
    scheduler.notify()


def resume(campaign: Campaign) -> None:
    with transaction.atomic():
        lifecycle.require(campaign, "resume", status_reason="")
        events.record(campaign.pk, events.Kind.RESUMED, T.RESUMED)
        clear_alert(f"campaign_paused:{campaign.pk}")  # a later pause is news again
    campaign.refresh_from_db()
    scheduler.notify()


def cancel(campaign: Campaign, reason: str = "") -> int:
    """Stop for good: every recipient not yet done is skipped; the number skipped."""
    with transaction.atomic():
        lifecycle.require(campaign, "cancel", status_reason=reason, finished_at=timezone.now())
        skipped = skip_unsent(campaign.pk)
        events.record(
            campaign.pk,
            events.Kind.CANCELLED,
            T.CANCELLED % {"reason": reason or T.CANCELLED_BY_OPERATOR, "count": skipped},
        )
    campaign.refresh_from_db()
    scheduler.notify()
    return skipped


def skip_unsent(campaign_id: int) -> int:
    """Pending and retry rows of a cancelled campaign become skipped (rows in flight finish)."""
    return Delivery.objects.filter(
        campaign_id=campaign_id, state__in=(State.PENDING, State.RETRY)
    ).update(
        state=State.SKIPPED, error=T.ROW_CANCELLED, updated_at=timezone.now(), lease_until=None
    )


def retry_failed(campaign: Campaign, reason: str = "", in_doubt: bool = False) -> int:
    """Queue the failed recipients again (those whose error contains `reason`, if given).

    Only rows in `failed` (and `in_doubt` when asked) move: a sent row never
    does. A finished campaign runs again; a paused one stays paused until resumed.
    In-doubt rows go the way `doubt.resolve(..., delivered=False)` sends them:
    the same `requeue`, attempts kept.
    """
    with transaction.atomic():
        campaign = lock(
            campaign,
            (Status.FINISHED, Status.PAUSED),
            gettext("only a finished or paused campaign can retry its failed recipients"),
        )
        rows = Delivery.objects.filter(campaign_id=campaign.pk)
        if reason:
            rows = rows.filter(Q(error__icontains=reason) | Q(reply__icontains=reason))
        # Failed rows start their attempts afresh, or the next 4xx would fail them at once.
        count = requeue(rows.filter(state=State.FAILED), reset_attempts=True)
        doubtful = requeue(rows.filter(state=State.IN_DOUBT)) if in_doubt else 0
        if count + doubtful == 0:
            raise InvalidInput(
                gettext("no failed recipients matching %(reason)s to retry")
                % {"reason": repr(reason)}
                if reason
                else gettext("no failed recipients to retry")
            )
        reopen(campaign)
        events.record(
            campaign.pk,
            events.Kind.RETRIED,
            _retried(count + doubtful, doubtful, reason),
        )
    scheduler.notify()
    return count + doubtful


def _retried(count: int, doubtful: int, match: str) -> str:
    """The retry's event: how many, how many of them were in doubt, which error it matched."""
    if doubtful and match:
        text = T.RETRIED_IN_DOUBT_MATCHING
    else:
        text = T.RETRIED_IN_DOUBT if doubtful else T.RETRIED_MATCHING if match else T.RETRIED
    return text % {"count": count, "doubtful": doubtful, "match": repr(match)}


def lock(campaign: Campaign, allowed: tuple[str, ...], refusal: str) -> Campaign:
    """The campaign, row-locked for this transaction, if its status is one of `allowed`.

    The lock makes two operators settling the same rows take turns; the loser
    sees the rows already moved and gets a clear error.
    """
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status not in allowed:
        raise InvalidInput(
            gettext("campaign %(id)s is %(status)s; %(refusal)s")
            % {"id": campaign.pk, "status": campaign.status, "refusal": refusal}
        )
    return campaign


def requeue(rows: QuerySet[Delivery], reset_attempts: bool = False, note: Any = "") -> int:
    """Put finished rows back in the queue, inside the caller's transaction; how many moved.

    `handed_at` is cleared so a crash before the next hand-over cannot take the
    row for one on the wire. `note` (a string or an expression) is the row's
    text while it waits; the next outcome replaces it.
    """
    fields: dict[str, Any] = {"attempts": 0} if reset_attempts else {}
    return rows.update(
        state=State.PENDING,
        next_attempt_at=None,
        deferred_since=None,
        handed_at=None,
        worker="",
        lease_until=None,
        error=note,
        updated_at=timezone.now(),
        **fields,
    )


def reopen(campaign: Campaign) -> None:
    """A finished campaign with rows queued again runs again (a paused one waits for resume)."""
    if campaign.status == Status.FINISHED:
        lifecycle.move(campaign.pk, "reopen", finished_at=None, status_reason="")


def auto_pause(campaign_id: int, reason: str) -> bool:
    """Pause a running campaign on the engine's initiative, log why and alert the admins."""
    with transaction.atomic():
        changed = lifecycle.move(campaign_id, "pause", status_reason=reason[:500])
        if changed:
            events.record(campaign_id, events.Kind.AUTO_PAUSED, reason)
            _alert(campaign_id, AlertKind.CAMPAIGN_PAUSED, T.ALERT_PAUSED, reason)
    if changed:
        scheduler.notify()
    return bool(changed)


def _alert(campaign_id: int, kind: str, title: str, message: str) -> None:
    name = Campaign.objects.filter(pk=campaign_id).values_list("name", flat=True).first()
    key = f"{kind}:{campaign_id}"
    notify(kind, key, title % {"name": name}, message, campaign_id=campaign_id)


def _finish(campaign_id: int, reason: str = "") -> bool:
    changed = lifecycle.move(
        campaign_id, "finish", finished_at=timezone.now(), status_reason=reason
    )
    if changed:
        counts = dict(
            Delivery.objects.filter(campaign_id=campaign_id)
            .values_list("state")
            .annotate(n=Count("id"))
        )
        summary = _final_counts(counts)
        events.record(campaign_id, events.Kind.FINISHED, reason or summary or T.FINISHED)
        _alert(campaign_id, AlertKind.CAMPAIGN_FINISHED, T.ALERT_FINISHED, reason or summary)
    return bool(changed)


def _final_counts(counts: dict[str, int]) -> str:
    """Each final state's count, in the states' order: "30 failed, 90 sent"."""
    pieces = [
        T.FINAL_COUNTS[state] % {"count": n}
        if state in T.FINAL_COUNTS
        else f"{n} {state.replace('_', ' ')}"
        for state, n in sorted(counts.items())
    ]
    summary = pieces.pop() if pieces else ""
    while pieces:
        summary = T.AND_MORE % {"first": pieces.pop(), "rest": summary}
    return summary


def pause_if_failing(campaign_id: int, upto: int | None = None) -> bool:
    """Pause the campaign if its recent permanent failures (up to ledger row `upto`, the
    end of the part just recorded) pass its threshold; True if so."""
    reason = autopause.verdict(campaign_id, upto)
    return bool(reason) and auto_pause(campaign_id, reason)


def finish_if_done(campaign_id: int) -> bool:
    """A running campaign with no row left to send is finished (in-doubt rows wait for a human),
    unless its last failures pass its threshold: then it pauses itself, with the alert. Not
    twice: one that paused itself before runs because someone resumed it, failures seen."""
    with transaction.atomic():
        open_rows = Delivery.objects.filter(
            campaign_id=campaign_id, state__in=(State.PENDING, State.SENDING, State.RETRY)
        )
        if open_rows.exists():
            return False
        paused_before = CampaignEvent.objects.filter(
            campaign_id=campaign_id, kind=events.Kind.AUTO_PAUSED
        ).exists()
        if not paused_before and pause_if_failing(campaign_id):
            return False
        return _finish(campaign_id)


def send_test(
    campaign: Campaign, addresses: Iterable[str], subject_prefix: str = TEST_SUBJECT_PREFIX
) -> list[Outcome]:
    """Send a test through the campaign's sender (or the local outbox).

    One `outgoing.Outcome` per address: sent, or queued for the slot the
    sender's rate limit gives it (a worker sends it then); never refused for the limit.
    """
    messages = build_test_messages(campaign, addresses, subject_prefix)
    return send_soon(campaign.sender, messages, campaign.pk)
