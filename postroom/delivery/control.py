"""Start, pause, resume, cancel and retry-failed: what operators do to a running campaign.

Each change is a conditional UPDATE on the campaign's status, so two operators
(or an operator and a worker) can never both win; the loser gets a clear error.
Workers re-read the status before handing every batch to SMTP, and the
scheduler is notified, so a change takes effect within a second or two.
"""

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from postroom.campaigns.models import Campaign
from postroom.delivery import events, ledger, scheduler
from postroom.delivery.models import CampaignRun, Delivery
from postroom.errors import InvalidInput

Status = Campaign.Status
State = Delivery.State


def _transition(campaign: Campaign, allowed: tuple[str, ...], action: str, **fields) -> None:
    changed = Campaign.objects.filter(pk=campaign.pk, status__in=allowed).update(
        updated_at=timezone.now(), **fields
    )
    if changed != 1:
        campaign.refresh_from_db()
        raise InvalidInput(f"campaign {campaign.pk} is {campaign.status}; it cannot be {action}")


def start(campaign: Campaign) -> int:
    """Build the ledger and mark the campaign running, in one transaction; the recipient count."""
    from postroom.campaigns.spec import compiled_for

    compiled_for(campaign)  # a broken template is refused before anything changes
    if not campaign.lists.exists() and campaign.segment_id is None:
        raise InvalidInput("choose at least one list or a segment before starting")
    now = timezone.now()
    with transaction.atomic():
        _transition(
            campaign,
            (Status.DRAFT, Status.SCHEDULED),
            "started",
            status=Status.RUNNING,
            status_reason="",
            started_at=now,
            finished_at=None,
        )
        count = ledger.build(campaign)
        CampaignRun.objects.update_or_create(
            campaign=campaign, defaults={"rate_since": now.timestamp(), "last_progress": 0.0}
        )
        events.record(campaign.pk, events.Kind.STARTED, f"{count} recipients")
        if count == 0:
            _finish(campaign.pk, "nobody to send to: no subscriber is eligible")
    campaign.refresh_from_db()
    scheduler.notify()
    return count


def pause(campaign: Campaign, reason: str = "") -> None:
    with transaction.atomic():
        _transition(
            campaign, (Status.RUNNING,), "paused", status=Status.PAUSED, status_reason=reason
        )
        events.record(campaign.pk, events.Kind.PAUSED, reason or "paused by an operator")
    campaign.refresh_from_db()
    scheduler.notify()


def resume(campaign: Campaign) -> None:
    with transaction.atomic():
        _transition(campaign, (Status.PAUSED,), "resumed", status=Status.RUNNING, status_reason="")
        events.record(campaign.pk, events.Kind.RESUMED, "resumed")
    campaign.refresh_from_db()
    scheduler.notify()


def cancel(campaign: Campaign, reason: str = "") -> int:
    """Stop for good: every recipient not yet done is skipped; the number skipped."""
    with transaction.atomic():
        _transition(
            campaign,
            (Status.RUNNING, Status.PAUSED, Status.SCHEDULED),
            "cancelled",
            status=Status.CANCELLED,
            status_reason=reason,
            finished_at=timezone.now(),
        )
        skipped = skip_unsent(campaign.pk)
        events.record(
            campaign.pk,
            events.Kind.CANCELLED,
            f"{reason or 'cancelled by an operator'}; {skipped} recipients skipped",
        )
    campaign.refresh_from_db()
    scheduler.notify()
    return skipped


def skip_unsent(campaign_id: int) -> int:
    """Pending and retry rows of a cancelled campaign become skipped (rows in flight finish)."""
    return Delivery.objects.filter(
        campaign_id=campaign_id, state__in=(State.PENDING, State.RETRY)
    ).update(state=State.SKIPPED, error="cancelled", updated_at=timezone.now(), lease_until=None)


def retry_failed(campaign: Campaign, reason: str = "", in_doubt: bool = False) -> int:
    """Queue the failed recipients again (those whose error contains `reason`, if given).

    Only rows in `failed` (and `in_doubt` when asked) move: a sent row never
    does. A finished campaign runs again; a paused one stays paused until resumed.
    """
    states = [State.FAILED, State.IN_DOUBT] if in_doubt else [State.FAILED]
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if campaign.status not in (Status.FINISHED, Status.PAUSED):
            raise InvalidInput(
                f"campaign {campaign.pk} is {campaign.status}; only a finished or paused"
                " campaign can retry its failed recipients"
            )
        rows = Delivery.objects.filter(campaign_id=campaign.pk, state__in=states)
        if reason:
            rows = rows.filter(Q(error__icontains=reason) | Q(reply__icontains=reason))
        count = rows.update(
            state=State.PENDING,
            attempts=0,
            next_attempt_at=None,
            deferred_since=None,
            error="",
            updated_at=timezone.now(),
        )
        if count == 0:
            raise InvalidInput(
                "no failed recipients" + (f" matching {reason!r}" if reason else "") + " to retry"
            )
        if campaign.status == Status.FINISHED:
            Campaign.objects.filter(pk=campaign.pk).update(
                status=Status.RUNNING, finished_at=None, status_reason="", updated_at=timezone.now()
            )
        events.record(
            campaign.pk,
            events.Kind.RETRIED,
            f"{count} recipients queued again" + (f" (matching {reason!r})" if reason else ""),
        )
    scheduler.notify()
    return count


def auto_pause(campaign_id: int, reason: str, sender_failed: bool = False) -> bool:
    """Pause a running campaign on the engine's initiative, log why and alert staff."""
    with transaction.atomic():
        changed = Campaign.objects.filter(pk=campaign_id, status=Status.RUNNING).update(
            status=Status.PAUSED, status_reason=reason[:500], updated_at=timezone.now()
        )
        if changed:
            events.record(campaign_id, events.Kind.AUTO_PAUSED, reason)
    if changed:
        scheduler.notify()
        campaign = Campaign.objects.select_related("sender").get(pk=campaign_id)
        events.alert_staff(campaign, reason, through_sender=not sender_failed)
    return bool(changed)


def _finish(campaign_id: int, reason: str = "") -> bool:
    changed = Campaign.objects.filter(pk=campaign_id, status=Status.RUNNING).update(
        status=Status.FINISHED,
        finished_at=timezone.now(),
        status_reason=reason,
        updated_at=timezone.now(),
    )
    if changed:
        counts = dict(
            Delivery.objects.filter(campaign_id=campaign_id)
            .values_list("state")
            .annotate(n=Count("id"))
        )
        summary = ", ".join(f"{n} {state.replace('_', ' ')}" for state, n in sorted(counts.items()))
        events.record(campaign_id, events.Kind.FINISHED, reason or summary or "finished")
    return bool(changed)


def finish_if_done(campaign_id: int) -> bool:
    """A running campaign with no row left to send is finished (in-doubt rows wait for a human)."""
    with transaction.atomic():
        open_rows = Delivery.objects.filter(
            campaign_id=campaign_id, state__in=(State.PENDING, State.SENDING, State.RETRY)
        )
        if open_rows.exists():
            return False
        return _finish(campaign_id)
