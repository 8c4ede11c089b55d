"""One batch, in two of the worker's steps: claim rows under a grant (`claim`), then
drop those who left and render the rest (`render`)."""

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q
from django.utils import timezone

from postroom.audience.eligibility import mailable_subscribers
from postroom.audience.models import Subscriber, Subscription, Suppression
from postroom.campaigns.models import Campaign
from postroom.delivery import control, ledger, results
from postroom.delivery import texts as T
from postroom.delivery.journal import WorkerJournal
from postroom.delivery.ledger import Claimed
from postroom.delivery.scheduler import Grant
from postroom.mail.compose import BuiltMessage, CompiledCampaign, Recipient
from postroom.mail.errors import RenderError, TemplateBudgetError
from postroom.mail.smtp import OutgoingMessage

log = logging.getLogger("postroom.delivery")

# Changes this close to the start are checked again too (clocks of several machines).
CLOCK_SLACK = timedelta(seconds=10)
# render() gives the worker its turn this often (to record the parts that came back
# and hand over the next): a part comes back in milliseconds, a message takes
# ~0.15 ms to build.
YIELD_EVERY = 10


@dataclass
class CampaignContext:
    """What a worker keeps per campaign between batches (recompiled when the campaign changes)."""

    campaign: Campaign
    compiled: CompiledCampaign
    lists: list  # MailingList rows
    stamp: datetime
    # Renders over the template budget since this worker compiled the campaign
    # (a resume changes the stamp, so it starts a fresh count).
    over_budget: int = 0


# Builds the messages of rows that carry their own content: given the context and
# the claimed rows (to load what they need in one query), a function from one row to
# its message (RenderError: that row fails with the reason).
RowBuilder = Callable[[CampaignContext, list[Claimed]], Callable[[Claimed], BuiltMessage]]
# A RowBuilder's function raises NotMailable for a row whose person may no longer be
# mailed: the row is skipped with the reason, as the campaign rule's re-check does.
#
# Campaign.kind → its RowBuilder. The app owning the kind registers it when it loads
# (postroom.transactional), so the engine imports nothing of it; every other kind is
# one campaign message personalised for each row's subscriber.
row_builders: dict[str, RowBuilder] = {}


class NotMailable(Exception):
    """Raised by a row builder: skip this row, for the reason given."""


@dataclass
class Batch:
    grant: Grant
    context: CampaignContext
    claimed: list[Claimed] = field(default_factory=list)  # leased to this worker by `claim`
    rows: list[Claimed] = field(default_factory=list)  # rows to send, aligned with messages
    messages: list[OutgoingMessage] = field(default_factory=list)
    message_ids: dict[int, str] = field(default_factory=dict)

    @property
    def campaign_id(self) -> int:
        return self.grant.campaign_id


def _why_not_mailable(subscriber_ids: list[int]) -> dict[int, str]:
    """The reason each of these subscribers may no longer be mailed: blocklisted, suppressed..."""
    reasons: dict[int, str] = {}
    rows = Subscriber.objects.filter(id__in=subscriber_ids).values_list(
        "id", "status", "email_hash"
    )
    hashes = {h for _, _, h in rows}
    suppressed = dict(
        Suppression.objects.filter(email_hash__in=hashes).values_list("email_hash", "reason")
    )
    for sid, status, email_hash in rows:
        if status == Subscriber.Status.BLOCKLISTED:
            reasons[sid] = "blocklisted since the campaign started"
        elif email_hash in suppressed:
            reasons[sid] = f"suppressed since the campaign started ({suppressed[email_hash]})"
        else:
            reasons[sid] = "unsubscribed since the campaign started"
    return reasons


def _still_mailable(context: CampaignContext, subscriber_ids: list[int]) -> dict[int, tuple]:
    """Of these subscribers, those the campaign may still mail, with the values their
    message needs: {id: (name, attributes)}.

    The recipient set was fixed at the start by the audience app's definition;
    only people whose subscriber row, subscriptions or suppression changed since
    then are checked against that definition again (usually nobody). Running the
    full definition for every batch would cost a pass over all subscriptions.
    """

    since = (context.campaign.started_at or timezone.now()) - CLOCK_SLACK
    # One statement: each `id IN (…)` list of a batch costs Django ~1 µs an id to build,
    # and the database compares the times (reading them would parse a datetime per row).
    changed_since = (
        Q(updated_at__gte=since)
        | Exists(Subscription.objects.filter(subscriber=OuterRef("pk"), updated_at__gte=since))
        | Exists(
            Suppression.objects.filter(email_hash=OuterRef("email_hash"), created_at__gte=since)
        )
    )
    rows = (
        Subscriber.objects.filter(id__in=subscriber_ids)
        .annotate(changed=ExpressionWrapper(changed_since, output_field=BooleanField()))
        .values_list("id", "name", "attributes", "changed")
    )
    people = {}
    changed = set()
    for sid, name, attributes, was_changed in rows:
        people[sid] = (name, attributes)
        if was_changed:
            changed.add(sid)
    if changed:
        segment = None if context.lists else context.campaign.segment
        still = set(
            mailable_subscribers(context.lists, segment)
            .filter(id__in=changed)
            .values_list("id", flat=True)
        )
        for sid in changed - still:
            people.pop(sid, None)
    return people


def claim(grant: Grant, context: CampaignContext, worker_id: str, cursor: int) -> tuple[Batch, int]:
    """Lease up to grant.count rows past the keyset cursor (wrapping round once).

    Returns the batch (its `claimed` rows, nothing rendered yet) and the new cursor.
    """
    batch = Batch(grant, context)
    zones = grant.zones  # a send window's zones open now; None: any row
    rows = ledger.claim(grant.campaign_id, grant.count, worker_id, after_id=cursor, zones=zones)
    if not rows and cursor:  # wrap around
        rows = ledger.claim(grant.campaign_id, grant.count, worker_id, zones=zones)
    batch.claimed = rows
    return batch, rows[-1].id if rows else 0


def render(batch: Batch, worker_id: str, journal: WorkerJournal | None = None) -> Iterator[int]:
    """Build the messages of the claimed rows into `batch.rows`/`messages`.

    A generator: every YIELD_EVERY rows it yields how many it went through, and the
    caller does what it must meanwhile (the worker records the parts of the previous
    batch that came back). Rendering never calls back into its caller.
    `journal` is told which row is being built, so a row that kills the process
    is found out (`recovery`). An unexpected error while building one row spends
    an attempt of that row only (`results.record_errors`): a poison row fails
    after the maximum instead of crashing the worker for ever.
    """
    grant, context, rows = batch.grant, batch.context, batch.claimed
    if not rows:
        return
    own = row_builders.get(context.campaign.kind)
    build_own = own(context, rows) if own is not None else None
    # Rows with their own message were addressed one by one, not chosen from lists.
    ids = [] if build_own else [r.subscriber_id for r in rows if r.subscriber_id is not None]
    people = _still_mailable(context, ids)
    gone = [sid for sid in ids if sid not in people]
    reasons = _why_not_mailable(gone) if gone else {}
    skipped: dict[int, str] = {}
    broken: dict[int, str] = {}
    poisoned: list[tuple[Claimed, str]] = []
    compiled = context.compiled
    pause_reason = ""
    for built_count, row in enumerate(rows, 1):
        if built_count % YIELD_EVERY == 0:
            if journal is not None:
                journal.building(None)
            yield built_count
        subscriber_id = row.subscriber_id
        if build_own is None:
            if subscriber_id is None:
                skipped[row.id] = "the subscriber was erased"
                continue
            person = people.get(subscriber_id)
            if person is None:
                skipped[row.id] = reasons.get(subscriber_id, "no longer subscribed")
                continue
            name, attributes = person
        if journal is not None:
            journal.building(row.id)
        try:
            if build_own is not None:
                built = build_own(row)
            else:
                assert subscriber_id is not None  # rows without one were skipped above
                built = compiled.build(Recipient(subscriber_id, row.email, name, attributes or {}))
        except NotMailable as exc:
            skipped[row.id] = str(exc)
            continue
        except TemplateBudgetError as exc:
            broken[row.id] = T.ROW_UNBUILT % {"error": exc}
            pause_reason = _count_over_budget(context, exc)
            if pause_reason:  # stop here: each more render could cost the budget again
                ledger.release([r.id for r in rows[built_count:]], worker_id)
                break
            continue
        except RenderError as exc:
            broken[row.id] = T.ROW_UNBUILT % {"error": exc}
            continue
        except Exception as exc:  # a bug or a bad value: this row's fault, not the batch's
            log.exception("campaign %s: building the message for row %s", grant.campaign_id, row.id)
            poisoned.append((row, f"unexpected error while building the message: {exc!r}"))
            continue
        batch.rows.append(row)
        batch.messages.append(
            OutgoingMessage(
                row.id, built.mail_from, built.rcpt_to, built.data, crlf=True, dotted=built.dotted
            )
        )
        batch.message_ids[row.id] = built.message_id
    if journal is not None:
        journal.building(None)
    results.record_skipped(worker_id, skipped)
    if broken:
        results.record_failed(worker_id, broken)
    if poisoned:
        results.record_errors(context.campaign, worker_id, poisoned)
    if pause_reason:
        control.auto_pause(grant.campaign_id, pause_reason)


def _count_over_budget(context: CampaignContext, exc: TemplateBudgetError) -> str:
    """The pause reason once this campaign has gone over the template budget too often.

    One reader's huge attribute may fail its own row; a template that keeps
    going over budget would take a worker's time from every other campaign.
    """
    context.over_budget += 1
    if context.over_budget < settings.POSTROOM_TEMPLATE_PAUSE_AFTER:
        return ""
    return T.OVER_BUDGET % {"count": context.over_budget, "error": exc}
