"""Deleting and reordering a sequence's steps, also while people are in it.

Steps are numbered 1…N; a person's place (`Enrolment.position`), a branch's
target (`goto`) and an opened/clicked test (`condition["step"]`) are positions,
so each change renumbers all of them in one transaction, with the sequence's
active enrolments locked (the engine skips locked people on PostgreSQL, and
SQLite has one writer), so nobody moves with half of it.

- Deleting: people waiting for the deleted step wait for the next one instead
  (its wait counted from now), or complete when it was the last. Its hidden
  campaigns are cancelled (what they had not sent yet is skipped) and kept,
  with their ledgers: who was sent it stays on record.
- Moving: everyone stays at the step they were at (by identity, not number).
  Exactly once still holds: a send step's ledger has one row per person and
  campaign, a webhook step's event id is per person and step.

A branch that points to the deleted step, or that would test a send step not
before it, is refused with the reason, and nothing changes.
"""

from datetime import datetime

from django.db import transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from postroom.automations import texts as T
from postroom.automations import waits
from postroom.automations.models import Automation, Enrolment, Step, StepCampaign
from postroom.campaigns.models import Campaign
from postroom.delivery import control, scheduler
from postroom.errors import InvalidInput

LIVE = (Campaign.Status.RUNNING, Campaign.Status.PAUSED)
# A step's position while the others make room (above any real one).
ASIDE = 1_000_000
# What deleting or moving a step of a live sequence does (shown on the step's page).
LIVE_CHANGE_WARNING = _(
    "This sequence is live. Deleting a step moves the people waiting for it on to the next"
    " step (or completes them if it was the last); its messages not yet sent are not sent,"
    " and what was sent stays in its record. Moving a step keeps every person at the step"
    " they were at; nobody is sent a step twice."
)


def _steps(automation: Automation) -> list[Step]:
    return list(automation.steps.order_by("position"))


def _lock(automation: Automation) -> None:
    Automation.objects.select_for_update().get(pk=automation.pk)
    list(
        Enrolment.objects.select_for_update()
        .filter(automation=automation, state=Enrolment.State.ACTIVE)
        .values_list("pk", flat=True)
    )


def _position(steps: list[Step], raw: int | str, what: str = "step") -> int:
    """`what` is "step" or "position": one whole sentence for each, so each translates whole."""
    values = {"count": len(steps), "raw": raw}
    try:
        position = int(raw)
    except (TypeError, ValueError):
        if what == "position":
            message = gettext("a position is a number from 1 to %(count)s, not %(raw)s")
        else:
            message = gettext("a step is a number from 1 to %(count)s, not %(raw)s")
        raise InvalidInput(message % {**values, "raw": repr(raw)}) from None
    if not 1 <= position <= len(steps):
        if not steps:
            raise InvalidInput(gettext("the sequence has no steps"))
        if what == "position":
            message = gettext("the sequence has steps 1 to %(count)s: there is no position %(raw)s")
        else:
            message = gettext("the sequence has steps 1 to %(count)s: there is no step %(raw)s")
        raise InvalidInput(message % values)
    return position


def _renumber(automation: Automation, steps: list[Step], mapping: dict[int, int]) -> None:
    """Give every step, place, target and test its new number (`mapping`: old → new)."""
    moved = {old: new for old, new in mapping.items() if old != new}
    for step in steps:
        if step.position in moved:
            Step.objects.filter(pk=step.pk).update(position=ASIDE + moved[step.position])
    Step.objects.filter(automation=automation, position__gte=ASIDE).update(
        position=F("position") - ASIDE
    )
    if moved:
        Enrolment.objects.filter(automation=automation, position__in=moved).update(
            position=Case(*(When(position=o, then=Value(n)) for o, n in moved.items()))
        )
    for step in Step.objects.filter(automation=automation, kind=Step.Kind.BRANCH):
        goto = mapping.get(step.goto or 0, step.goto)
        condition = dict(step.condition or {})
        if "step" in condition:
            condition["step"] = mapping.get(int(condition["step"] or 0), condition["step"])
        if goto != step.goto or condition != step.condition:
            Step.objects.filter(pk=step.pk).update(goto=goto, condition=condition)


def _check_branches(steps: list[Step], mapping: dict[int, int], gone: int = 0) -> None:
    """Refuse a change that would leave a branch pointing nowhere or testing a later step."""
    for step in steps:
        if step.kind != Step.Kind.BRANCH or step.position == gone:
            continue
        tested = int((step.condition or {}).get("step") or 0)
        if gone and step.goto == gone:
            raise InvalidInput(
                gettext(
                    "step %(step)s (a branch) goes to step %(gone)s: change or delete that"
                    " branch first"
                )
                % {"step": step.position, "gone": gone}
            )
        if tested and gone == tested:
            raise InvalidInput(
                gettext(
                    "step %(step)s (a branch) tests step %(gone)s: change or delete that"
                    " branch first"
                )
                % {"step": step.position, "gone": gone}
            )
        if tested in mapping and mapping[tested] >= mapping[step.position]:
            raise InvalidInput(
                gettext(
                    "step %(step)s (a branch) tests step %(tested)s, which would no longer"
                    " come before it: move the branch too, or change it first"
                )
                % {"step": step.position, "tested": tested}
            )


def delete_step(automation: Automation, position: int | str, now: datetime | None = None) -> None:
    """Remove a step; who waits for it goes on to the next (see the module's note)."""
    now = now or timezone.now()
    with transaction.atomic():
        _lock(automation)
        steps = _steps(automation)
        gone = _position(steps, position)
        mapping = {
            s.position: s.position - (s.position > gone) for s in steps if s.position != gone
        }
        _check_branches(steps, mapping, gone)
        doomed = steps[gone - 1]
        following = steps[gone] if gone < len(steps) else None
        _move_on(automation, gone, following, now)
        campaigns = list(
            StepCampaign.objects.filter(step=doomed).values_list("campaign_id", flat=True)
        )
        doomed.delete()  # its StepCampaign rows stay, with no step
        for campaign in Campaign.objects.filter(pk__in=campaigns, status__in=LIVE):
            control.cancel(campaign, "its sequence step was deleted")
        _renumber(automation, [s for s in steps if s.pk != doomed.pk], mapping)
    scheduler.notify()


def _move_on(automation: Automation, gone: int, following: Step | None, now: datetime) -> None:
    waiting = Enrolment.objects.filter(
        automation=automation, state=Enrolment.State.ACTIVE, position=gone
    )
    if following is None:
        waiting.update(
            state=Enrolment.State.COMPLETED,
            reason=T.LAST_STEP_DELETED,
            next_at=None,
            updated_at=now,
        )
        return
    by_due: dict[datetime, list[int]] = {}
    for pk, attributes in waiting.values_list("pk", "subscriber__attributes").iterator(
        chunk_size=2000
    ):
        due = waits.wait_ends(
            now,
            following.wait_seconds,
            following.wait_weekdays,
            following.wait_time,
            waits.zone_of(attributes),
        )
        by_due.setdefault(due, []).append(pk)
    for due, pks in by_due.items():
        for start in range(0, len(pks), 1000):
            Enrolment.objects.filter(pk__in=pks[start : start + 1000]).update(
                next_at=due, timed=True, updated_at=now
            )


def move_step(automation: Automation, position: int | str, to: int | str) -> None:
    """Put step `position` at `to`, the steps between shifting by one; people stay put."""
    with transaction.atomic():
        _lock(automation)
        steps = _steps(automation)
        old = _position(steps, position)
        new = _position(steps, to, "position")
        order = [s.position for s in steps]
        order.remove(old)
        order.insert(new - 1, old)
        mapping = {p: i for i, p in enumerate(order, 1)}
        _check_branches(steps, mapping)
        _renumber(automation, steps, mapping)
