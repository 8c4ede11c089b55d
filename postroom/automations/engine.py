"""Moving people through sequences: who enters, and each due step, crash-safe.

Entering is idempotent (one enrolment per automation, person and cycle, a
unique constraint), so a scan killed half-way is simply done again. Due
enrolments move in one transaction per batch: the step's effect (for a send, a
ledger row in the step's hidden campaign, unique per person and campaign) and
the enrolment's new place commit together, so a SIGKILL at any moment neither
skips a step nor takes it twice (a webhook step's delivery goes in the same
transaction, automations.hooks). The ordinary worker then sends the rows with
every campaign guarantee (claim, hand-over, in doubt, rate limits, fair share).
"""

import logging
import time as clock
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Case, CharField, Exists, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Concat
from django.utils import timezone

from postroom.audience import services as audience
from postroom.audience.eligibility import mailable_anyone, mailable_subscribers
from postroom.audience.models import (
    MailingList,
    Segment,
    Subscriber,
    Subscription,
    Suppression,
    Tag,
)
from postroom.audience.segments import compile_q
from postroom.automations import hooks, stepwindows, waits
from postroom.automations import texts as T
from postroom.automations.models import Automation, Enrolment, Step, StepCampaign
from postroom.automations.services import allowed
from postroom.campaigns import lifecycle
from postroom.campaigns.models import Campaign
from postroom.delivery import scheduler
from postroom.delivery.models import Delivery
from postroom.errors import PostroomError
from postroom.tracking.models import EngagementEvent

log = logging.getLogger("postroom.automations")

# Enrolments moved per transaction: short enough that the write lock (SQLite's one)
# is held briefly, long enough that 100,000 people enter in seconds.
BATCH = 500
# Trigger scans per automation at most this often (each is a query over its list).
SCAN_SECONDS = 5.0
# Steps one person may take in one pass (a branch looping back without a wait).
MAX_HOPS = 20
# People entered per scan and automation (the rest wait for the next scan).
SCAN_LIMIT = 5000

# A worker run `--until-idle` waits for steps due this soon (a short wait in a test, a
# batch that became due while it sent); a wait of days is a live worker's.
IDLE_HORIZON = timedelta(seconds=60)
# A date trigger catches up on the moments its scans missed (a worker down for days) up to
# this far back; older ones are skipped and reported (`Automation.skipped`): a birthday
# greeting a few days late is still welcome, one weeks late reads as a mistake.
CATCH_UP = timedelta(days=7)
# Waiting people whose subscriptions or suppression changed are looked at for who left
# (unsubscribed, bounced…) this often; everyone waiting at start and every STOP_FULL_SECONDS
# (bench/stops.py, 100,000 waiting, SQLite, load ~16 on 2 cores: a full pass ~0.7 s, a
# quick one with nobody changed 65 ms).
STOP_SECONDS = 5.0
STOP_FULL_SECONDS = 600.0
STOP_MARGIN = timedelta(seconds=60)

_last_scan: dict[int, float] = {}
_last_stop = 0.0
_last_full_stop = 0.0
_stop_since: datetime | None = None


@dataclass
class Candidate:
    subscriber_id: int
    cycle: int
    since: datetime  # when the person triggered: the first wait counts from here
    attributes: dict = field(default_factory=dict)


# -- entering ---------------------------------------------------------------


def _not_enrolled(automation: Automation, cycle: int = 0) -> Q:
    return ~Q(
        Exists(
            Enrolment.objects.filter(
                automation_id=automation.pk, subscriber_id=OuterRef("pk"), cycle=cycle
            )
        )
    )


def _list_candidates(automation: Automation) -> QuerySet[Subscription]:
    """Subscriptions to the list made (or confirmed) since activation, mailable by the
    list's opt-in, whose person is active and not in the sequence yet.

    Straight from the subscriptions, not through `mailable_subscribers`: on freshly
    bulk-loaded tables PostgreSQL's estimates made that plan a nested loop that took
    12 s for 20,000 joiners; this one is one pass and an index probe per row. Who was
    suppressed since joining is stopped, with the reason, at the first step.
    """
    rows = Subscription.objects.filter(
        mailing_list_id=automation.mailing_list_id,
        subscriber__status=Subscriber.Status.ACTIVE,
    )
    if automation.trigger == Automation.Trigger.CONFIRMED:
        rows = rows.filter(status=Subscription.Status.CONFIRMED)
        if not automation.enrol_existing:
            rows = rows.filter(confirmed_at__gte=automation.activated_at)
    else:
        ml = MailingList.objects.get(pk=automation.mailing_list_id or 0)
        statuses = [Subscription.Status.CONFIRMED]
        if ml.optin == MailingList.Optin.SINGLE:
            statuses.append(Subscription.Status.UNCONFIRMED)
        rows = rows.filter(status__in=statuses)
        if not automation.enrol_existing:
            rows = rows.filter(created_at__gte=automation.activated_at)
    entered = Enrolment.objects.filter(
        automation_id=automation.pk, subscriber_id=OuterRef("subscriber_id"), cycle=0
    )
    return rows.filter(~Exists(entered))


def _segment_candidates(automation: Automation) -> QuerySet[Subscriber]:
    segment = Segment.objects.get(pk=automation.segment_id or 0)
    return mailable_subscribers(None, segment).filter(_not_enrolled(automation))


def date_window(automation: Automation, now: datetime) -> tuple[datetime, datetime]:
    """The moments a date trigger's scan at `now` covers: (after, now].

    `after` is the last moment scanned; at the first scan the activation (with
    --enrol-existing a day back: whoever's date is today). Never more than CATCH_UP back.
    """
    after = automation.scanned_until or automation.activated_at or now
    if automation.scanned_until is None and automation.enrol_existing:
        after = now - timedelta(days=1)
    return max(after, now - CATCH_UP), now


def _date_candidates(
    automation: Automation, after: datetime, until: datetime, limit: int | None
) -> list[Candidate]:
    """Who is not in the sequence yet for a yearly date whose local hour came in (after,
    until], where they live; each cycle is that local year.

    The database narrows to dates ending in the MM-DD of those days, a day either side
    (UTC): every local date on Earth is one of them.
    """
    if until <= after:
        return []
    suffixes = waits.suffixes_between(after, until)
    near = Q(_when__isnull=False)
    if suffixes is not None:
        near = Q()
        for suffix in suffixes:
            near |= Q(_when__endswith=suffix)
    people = (
        mailable_anyone()
        .annotate(_when=KeyTextTransform(automation.attribute, "attributes"))
        .filter(near)
        .values_list("pk", "attributes")
    )
    found = []
    for pk, attributes in people.iterator(chunk_size=2000):
        zone = waits.zone_of(attributes)
        value = (attributes or {}).get(automation.attribute)
        for moment in waits.yearly_moments(value, zone, automation.local_hour, after, until):
            found.append(Candidate(pk, moment.year, moment, attributes or {}))
    if not found:
        return []
    have = set(
        Enrolment.objects.filter(
            automation=automation,
            subscriber_id__in=[c.subscriber_id for c in found],
            cycle__in={c.cycle for c in found},
        ).values_list("subscriber_id", "cycle")
    )
    return [c for c in found if (c.subscriber_id, c.cycle) not in have][:limit]


def _scanned(automation: Automation, now: datetime) -> None:
    """Remember that a date trigger's moments up to `now` are scanned. When the last scan
    is more than CATCH_UP old (the workers were down), who reached their moment before
    the catch-up window is not entered: say how many, and when, on the sequence."""
    last = automation.scanned_until
    if last is not None and now <= last:
        return
    fields: dict = {"scanned_until": now}
    after, _ = date_window(automation, now)
    if last is not None and after > last:
        people = len(_date_candidates(automation, last, after, None))
        fields["skipped"] = {
            "after": last.isoformat(),
            "until": after.isoformat(),
            "people": people,
        }
        log.warning(
            "automation %s: no scan from %s to %s; %d people whose date was then are skipped"
            " (more than %s late)",
            automation.pk,
            last,
            after,
            people,
            CATCH_UP,
        )
    Automation.objects.filter(pk=automation.pk).filter(
        Q(scanned_until__isnull=True) | Q(scanned_until__lt=now)
    ).update(**fields)


def candidates(automation: Automation, now: datetime, limit: int = SCAN_LIMIT) -> list[Candidate]:
    """Who triggers this sequence now and is not in it yet (an empty list for API triggers)."""
    trigger = automation.trigger
    if trigger == Automation.Trigger.DATE:
        return _date_candidates(automation, *date_window(automation, now), limit)
    if trigger in (Automation.Trigger.JOINED, Automation.Trigger.CONFIRMED):
        subscriptions = (
            _list_candidates(automation)
            .order_by("subscriber_id")
            .values_list("subscriber_id", "subscriber__attributes")[:limit]
        )
        return [Candidate(pk, 0, now, attributes or {}) for pk, attributes in subscriptions]
    if trigger == Automation.Trigger.SEGMENT:
        qs = _segment_candidates(automation)
    else:
        return []
    rows = qs.order_by("pk").values_list("pk", "attributes")[:limit]
    return [Candidate(pk, 0, now, attributes or {}) for pk, attributes in rows]


def enter(automation: Automation, found: list[Candidate], now: datetime) -> int:
    """Enrol the candidates at step 1 (its wait counted from when each triggered)."""
    first = automation.steps.order_by("position").first()
    if first is None or not found:
        return 0
    rows = [
        Enrolment(
            automation=automation,
            subscriber_id=c.subscriber_id,
            cycle=c.cycle,
            position=first.position,
            next_at=waits.wait_ends(
                c.since,
                first.wait_seconds,
                first.wait_weekdays,
                first.wait_time,
                waits.zone_of(c.attributes),
            ),
            timed=True,
            entered_at=now,
            updated_at=now,
        )
        for c in found
    ]
    for start in range(0, len(rows), 1000):
        Enrolment.objects.bulk_create(rows[start : start + 1000], ignore_conflicts=True)
    return len(rows)


def enrol_triggered(now: datetime | None = None, force: bool = False) -> int:
    """Scan every active sequence's trigger (each at most every SCAN_SECONDS unless forced)."""
    now = now or timezone.now()
    entered = 0
    for automation in Automation.objects.filter(status=Automation.Status.ACTIVE).exclude(
        trigger=Automation.Trigger.API
    ):
        last = _last_scan.get(automation.pk, 0.0)
        if not force and clock.monotonic() - last < SCAN_SECONDS:
            continue
        found = candidates(automation, now)
        entered += enter(automation, found, now)
        if len(found) < SCAN_LIMIT:  # a full scan: come back at once for the rest
            _last_scan[automation.pk] = clock.monotonic()
            if automation.trigger == Automation.Trigger.DATE:
                _scanned(automation, now)  # after the entries commit: a crash rescans
    return entered


# -- moving on --------------------------------------------------------------


def _due(now: datetime) -> QuerySet[Enrolment]:
    return Enrolment.objects.filter(
        state=Enrolment.State.ACTIVE,
        next_at__lte=now,
        automation__status=Automation.Status.ACTIVE,
    )


def step_campaign(step: Step, automation: Automation, cycle: int) -> int:
    """The id of the hidden campaign that sends `step` in `cycle`, made the first time
    (inside the caller's transaction; get_or_create's savepoint settles a race)."""
    found = (
        StepCampaign.objects.filter(step=step, cycle=cycle).values_list("campaign_id", flat=True)
    ).first()
    if found is not None:
        return found
    label = f"{automation.name} · step {step.position}" + (f" · {cycle}" if cycle else "")
    with transaction.atomic():
        campaign = Campaign.objects.create(
            kind=Campaign.Kind.AUTOMATION,
            name=label[:200],
            subject=step.subject,
            body=step.body,
            body_format=step.body_format,
            from_email=automation.from_email,
            from_name=automation.from_name,
            sender=automation.sender,
            # Failures are each person's, recorded per row; they never pause a sequence.
            error_threshold_percent=100,
            status=lifecycle.BORN[Campaign.Kind.AUTOMATION],
            started_at=timezone.now(),
            **{f: getattr(step, f) for f in stepwindows.FIELDS},
        )
        link, created = StepCampaign.objects.get_or_create(
            step=step, cycle=cycle, defaults={"campaign": campaign}
        )
        if not created:
            campaign.delete()
    return link.campaign_id


def _why() -> Case:
    """Why a person (the Subscriber row at hand) may no longer be mailed by a sequence, in
    SQL: one expression tells a batch's reasons and stops many waiting people in one UPDATE."""
    suppression = Suppression.objects.filter(email_hash=OuterRef("email_hash"))
    before, _, after = T.SUPPRESSED.partition("%(reason)s")
    return Case(
        When(status=Subscriber.Status.BLOCKLISTED, then=Value(T.BLOCKLISTED)),
        When(
            Exists(suppression),
            then=Concat(Value(before), Subquery(suppression.values("reason")[:1]), Value(after)),
        ),
        default=Value(T.UNSUBSCRIBED),
        output_field=CharField(),
    )


def why_not(subscriber_ids: list[int]) -> dict[int, str]:
    """Why each of these people may no longer be mailed by a sequence."""
    return dict(
        Subscriber.objects.filter(pk__in=subscriber_ids)
        .annotate(why=_why())
        .values_list("pk", "why")
    )


def _changed_since(since: datetime, limit: int) -> list[int] | None:
    """The people whose subscriptions changed, or whose address was suppressed (a bounce, a
    complaint, an unsubscribe from everything, a blocklisting), since then; None when more
    than `limit` did (look at everyone)."""
    people = set(
        Subscription.objects.filter(updated_at__gte=since).values_list("subscriber_id", flat=True)[
            : limit + 1
        ]
    )
    people.update(
        Subscriber.objects.filter(
            email_hash__in=Suppression.objects.filter(created_at__gte=since).values("email_hash")
        ).values_list("pk", flat=True)[: limit + 1]
    )
    return sorted(people) if len(people) <= limit else None


def stop_departed(
    now: datetime | None = None, since: datetime | None = None, limit: int = SCAN_LIMIT
) -> int:
    """Stop, with the reason, waiting people their sequence may no longer mail (they
    unsubscribed, bounced, were suppressed or blocklisted while waiting), so their place
    says so at once rather than when their wait ends; how many.

    With `since`, only people whose subscriptions or suppression changed from then on
    (the side thread's frequent pass: two reads when nobody changed); without, or when
    more than `limit` changed, everyone waiting. Per sequence one read (no write lock)
    and, only when someone left, one UPDATE for up to `limit` of them.
    """
    now = now or timezone.now()
    changed = None if since is None else _changed_since(since, limit)
    if changed == []:
        return 0
    stopped = 0
    for automation in Automation.objects.exclude(status=Automation.Status.DRAFT):
        waiting = Enrolment.objects.filter(automation=automation, state=Enrolment.State.ACTIVE)
        suspects = waiting if changed is None else waiting.filter(subscriber_id__in=changed)
        gone = list(
            suspects.filter(
                ~Exists(allowed(automation).filter(pk=OuterRef("subscriber_id")))
            ).values_list("pk", flat=True)[:limit]
        )
        if not gone:
            continue
        reason = Subscriber.objects.filter(pk=OuterRef("subscriber_id")).annotate(why=_why())
        stopped += waiting.filter(pk__in=gone).update(
            state=Enrolment.State.STOPPED,
            reason=Subquery(reason.values("why")[:1]),
            next_at=None,
            updated_at=now,
        )
    return stopped


def _stop_pass(now: datetime) -> None:
    """Every STOP_SECONDS, stop who left among the people changed since the last pass (a
    minute's margin for clocks and late commits); everyone once per process and then every
    STOP_FULL_SECONDS, for changes that bypass the timestamps (a raw UPDATE)."""
    global _last_stop, _last_full_stop, _stop_since
    tick = clock.monotonic()
    if tick - _last_stop < STOP_SECONDS:
        return
    full = _stop_since is None or tick - _last_full_stop >= STOP_FULL_SECONDS
    since = None if full or _stop_since is None else _stop_since - STOP_MARGIN
    stop_departed(now, since)
    _last_stop, _stop_since = tick, now
    if full:
        _last_full_stop = tick


class _Pass:
    """One batch's work: what each due person's steps do, written at the end."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.deliveries: list[Delivery] = []
        self.calls: list[hooks.Call] = []
        self.changed: list[Enrolment] = []
        self.people: dict[int, tuple[str, dict]] = {}
        self.steps: dict[int, dict[int, Step]] = {}
        self.automations: dict[int, Automation] = {}
        self.campaigns: dict[tuple[int, int], int] = {}  # (step id, cycle) → campaign id

    def take(self, enrolment: Enrolment, mailable: set[int], reasons: dict[int, str]) -> None:
        automation = self.automations[enrolment.automation_id]
        steps = self.steps[automation.pk]
        email, attributes = self.people.get(enrolment.subscriber_id, ("", {}))
        zone = waits.zone_of(attributes)
        for _ in range(MAX_HOPS):
            step = steps.get(enrolment.position)
            if step is None:
                self._finish(enrolment, Enrolment.State.COMPLETED, "")
                return
            if enrolment.subscriber_id not in mailable:
                reason = reasons.get(enrolment.subscriber_id, T.NO_LONGER_SUBSCRIBED)
                self._finish(enrolment, Enrolment.State.STOPPED, reason)
                return
            goto = self._run(step, automation, enrolment, email, attributes)
            following = steps.get(goto) if goto else None
            if following is None:
                self._finish(enrolment, Enrolment.State.COMPLETED, "")
                return
            enrolment.position = following.position
            enrolment.next_at = waits.wait_ends(
                self.now,
                following.wait_seconds,
                following.wait_weekdays,
                following.wait_time,
                zone,
            )
            enrolment.updated_at = self.now
            if enrolment.next_at > self.now:
                break
        self.changed.append(enrolment)

    def _finish(self, enrolment: Enrolment, state: str, reason: str) -> None:
        enrolment.state = state
        enrolment.reason = reason[:300]
        enrolment.next_at = None
        enrolment.updated_at = self.now
        self.changed.append(enrolment)

    def _run(
        self, step: Step, automation: Automation, e: Enrolment, email: str, attributes: dict
    ) -> int:
        """Do the step; the position of the next one (0: leave)."""
        kind = Step.Kind
        sid = e.subscriber_id
        if step.kind == kind.SEND:
            key = (step.pk, e.cycle)
            if key not in self.campaigns:
                self.campaigns[key] = step_campaign(step, automation, e.cycle)
            campaign_id = self.campaigns[key]
            self.deliveries.append(
                Delivery(
                    campaign_id=campaign_id,
                    subscriber_id=sid,
                    email=email,
                    state=Delivery.State.PENDING,
                    zone=stepwindows.zone_for(step, attributes),
                )
            )
        elif step.kind == kind.WEBHOOK:
            self.calls.append(hooks.Call(e.pk, sid, e.cycle, step, automation))
        elif step.kind == kind.TAG:
            tag, _ = Tag.objects.get_or_create(name=step.tag)
            Subscriber.tags.through.objects.bulk_create(
                [Subscriber.tags.through(subscriber_id=sid, tag_id=tag.pk)], ignore_conflicts=True
            )
        elif step.kind == kind.UNTAG:
            Subscriber.tags.through.objects.filter(subscriber_id=sid, tag__name=step.tag).delete()
        elif step.kind in (kind.ADD_LIST, kind.REMOVE_LIST):
            self._list_step(step, sid)
        elif step.kind == kind.BRANCH and self._holds(step, automation, e, attributes):
            return step.goto or 0
        later = [p for p in self.steps[automation.pk] if p > step.position]
        return min(later) if later else 0

    def _list_step(self, step: Step, sid: int) -> None:
        person = Subscriber.objects.get(pk=sid)
        target = MailingList.objects.get(pk=step.mailing_list_id or 0)
        try:
            if step.kind == Step.Kind.ADD_LIST:
                audience.subscribe(person, target, "admin")
            else:
                audience.unsubscribe(person, [target], source="automation")
        except PostroomError as exc:  # a suppressed address cannot be added: not fatal
            log.info("automation step %s for subscriber %s: %s", step.pk, sid, exc)

    def _holds(self, step: Step, automation: Automation, e: Enrolment, attributes: dict) -> bool:
        condition = step.condition or {}
        test = condition.get("if")
        if test in ("opened", "clicked"):
            target = self.steps[automation.pk].get(int(condition.get("step") or 0))
            campaigns = StepCampaign.objects.filter(step=target, cycle=e.cycle).values(
                "campaign_id"
            )
            kind = EngagementEvent.Kind.OPEN if test == "opened" else EngagementEvent.Kind.CLICK
            return EngagementEvent.objects.filter(
                campaign_id__in=campaigns, subscriber_id=e.subscriber_id, kind=kind, machine=""
            ).exists()
        if test == "attribute":
            value = attributes.get(condition.get("name", ""))
            return value is not None and str(value) == str(condition.get("value", ""))
        if test == "segment":
            segment = Segment.objects.filter(pk=int(condition.get("segment") or 0)).first()
            return bool(
                segment
                and Subscriber.objects.filter(pk=e.subscriber_id)
                .filter(compile_q(segment.definition))
                .exists()
            )
        return False


def advance(now: datetime | None = None, limit: int = BATCH) -> int:
    """Take the due steps of up to `limit` people, in one transaction; how many moved."""
    now = now or timezone.now()
    if not _due(now).exists():  # a read: no write lock (SQLite's one) when nothing is due
        return 0
    work = _Pass(now)
    with transaction.atomic():
        due = _due(now).order_by("next_at", "id")
        if connection.vendor == "postgresql":  # two workers take different people
            due = due.select_for_update(skip_locked=True, of=("self",))
        enrolments = list(due[:limit])
        if not enrolments:
            return 0
        by_automation: dict[int, list[Enrolment]] = defaultdict(list)
        for e in enrolments:
            by_automation[e.automation_id].append(e)
        work.automations = {a.pk: a for a in Automation.objects.filter(pk__in=by_automation)}
        for step in Step.objects.filter(automation_id__in=by_automation):
            work.steps.setdefault(step.automation_id, {})[step.position] = step
        ids = [e.subscriber_id for e in enrolments]
        work.people = {
            pk: (email, attributes or {})
            for pk, email, attributes in Subscriber.objects.filter(pk__in=ids).values_list(
                "pk", "email", "attributes"
            )
        }
        for automation_id, group in by_automation.items():
            work.steps.setdefault(automation_id, {})
            members = [e.subscriber_id for e in group]
            mailable = set(
                allowed(work.automations[automation_id])
                .filter(pk__in=members)
                .values_list("pk", flat=True)
            )
            gone = [sid for sid in members if sid not in mailable]
            reasons = why_not(gone) if gone else {}
            for e in group:
                work.take(e, mailable, reasons)
        Delivery.objects.bulk_create(work.deliveries, ignore_conflicts=True)
        stepwindows.note_zones(work.deliveries)
        hooks.queue(work.calls)
        _save(work.changed)
        if work.deliveries:
            scheduler.notify()  # in the same commit: idle workers look for the new rows
    return len(enrolments)


def _save(changed: list[Enrolment]) -> None:
    """One UPDATE per distinct new place: people who took the same steps at the same
    moment share it (bulk_update's CASE per row and field cost ~10x more for 500)."""
    groups: dict[tuple, list[int]] = defaultdict(list)
    for e in changed:
        groups[(e.position, e.next_at, e.state, e.reason, e.updated_at)].append(e.pk)
    for (position, next_at, state, reason, updated_at), ids in groups.items():
        Enrolment.objects.filter(pk__in=ids).update(
            position=position, next_at=next_at, state=state, reason=reason, updated_at=updated_at
        )


# -- the worker's side thread -------------------------------------------------


def background_step(now: datetime | None = None) -> bool:
    """Enter who triggered, stop who left while waiting (every STOP_SECONDS), then move one
    batch of due people; True when it entered or moved someone."""
    now = now or timezone.now()
    entered = enrol_triggered(now)
    _stop_pass(timezone.now())
    moved = advance(now)
    return bool(entered or moved)


def pending(now: datetime | None = None) -> bool:
    """Whether people are waiting to enter or due to move (within IDLE_HORIZON): a worker
    run `--until-idle` stays for them, and leaves longer waits to a live worker.

    Asked in the order the side thread moves people, each question after the commit that
    ends the previous one's truth: waiting to enter, then due, then (the worker's
    `has_work`) the ledger. Asked due-first, a worker could look for due people just before
    the side thread entered some, find them entered, and look at the ledger before their
    step was queued: three noes, and it left with a step about to be queued.
    """
    now = now or timezone.now()
    for automation in Automation.objects.filter(status=Automation.Status.ACTIVE):
        if candidates(automation, now, limit=1):
            return True
    return _due(now + IDLE_HORIZON).exists()


def next_due() -> datetime | None:
    """When the next waiting person is due (for a status line)."""
    return (
        Enrolment.objects.filter(
            state=Enrolment.State.ACTIVE, automation__status=Automation.Status.ACTIVE
        )
        .order_by("next_at")
        .values_list("next_at", flat=True)
        .first()
    )
