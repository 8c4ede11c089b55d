"""Every change of a campaign's status, checked against one table.

A change is one conditional UPDATE (the status must be one the table allows
the action from), so two actors racing (two operators, an operator and a
worker) can never both win: the loser sees `False` or a clear refusal. This
module is the only code that writes `Campaign.status`; what each action does
besides (build the ledger, skip rows, alert) stays with its caller.
"""

from dataclasses import dataclass

from django.utils import timezone
from django.utils.translation import gettext

from postroom.campaigns.models import Campaign
from postroom.errors import InvalidInput
from postroom.storedtext import gettext_noop

Status = Campaign.Status


@dataclass(frozen=True)
class Transition:
    sources: tuple[str, ...]
    target: str
    refused: str  # the whole refusal (gettext_noop), translated where it is raised
    never_for: tuple[str, ...] = ()  # campaign kinds the action does not apply to


TRANSITIONS: dict[str, Transition] = {
    "schedule": Transition(
        (Status.DRAFT, Status.SCHEDULED),
        Status.SCHEDULED,
        gettext_noop("campaign %(campaign)s is %(status)s; it cannot be scheduled"),
    ),
    "unschedule": Transition(
        (Status.SCHEDULED,),
        Status.DRAFT,
        gettext_noop("campaign %(campaign)s is %(status)s; it cannot be unscheduled"),
    ),
    "start": Transition(
        (Status.DRAFT, Status.SCHEDULED),
        Status.RUNNING,
        gettext_noop("campaign %(campaign)s is %(status)s; it cannot be started"),
    ),
    # A scheduled start the worker could not make (a template broken since) goes back to draft.
    "start_failed": Transition(
        (Status.SCHEDULED,),
        Status.DRAFT,
        gettext_noop("campaign %(campaign)s is %(status)s; it cannot be returned to draft"),
    ),
    "pause": Transition(
        (Status.RUNNING,),
        Status.PAUSED,
        gettext_noop("campaign %(campaign)s is %(status)s; it cannot be paused"),
    ),
    "resume": Transition(
        (Status.PAUSED,),
        Status.RUNNING,
        gettext_noop("campaign %(campaign)s is %(status)s; it cannot be resumed"),
    ),
    "cancel": Transition(
        (Status.RUNNING, Status.PAUSED, Status.SCHEDULED),
        Status.CANCELLED,
        gettext_noop("campaign %(campaign)s is %(status)s; it cannot be cancelled"),
    ),
    # A transactional stream, or a sequence's step, stands open for the next message:
    # it never finishes.
    "finish": Transition(
        (Status.RUNNING,),
        Status.FINISHED,
        gettext_noop("campaign %(campaign)s is %(status)s; it cannot be finished"),
        never_for=(Campaign.Kind.TRANSACTIONAL, Campaign.Kind.AUTOMATION),
    ),
    # Recipients queued again (retry failed, a resend of those in doubt) reopen a finished one.
    "reopen": Transition(
        (Status.FINISHED,),
        Status.RUNNING,
        gettext_noop("campaign %(campaign)s is %(status)s; it cannot be reopened"),
    ),
}


# The status a campaign is created in: a newsletter starts as a draft; a transactional
# stream stands open from its creation (it is made when its first message comes), and
# so does an automation step's hidden campaign (made when its first person is due).
BORN: dict[str, str] = {
    Campaign.Kind.NEWSLETTER: Status.DRAFT,
    Campaign.Kind.TRANSACTIONAL: Status.RUNNING,
    Campaign.Kind.AUTOMATION: Status.RUNNING,
}


def move(campaign_id: int, action: str, **fields: object) -> bool:
    """Apply `action` if the campaign's status allows it (with `fields` in the same UPDATE)."""
    step = TRANSITIONS[action]
    rows = Campaign.objects.filter(pk=campaign_id, status__in=step.sources)
    changed = rows.exclude(kind__in=step.never_for).update(
        status=step.target, updated_at=timezone.now(), **fields
    )
    return changed == 1


def require(campaign: Campaign, action: str, **fields: object) -> None:
    """`move`, or InvalidInput naming the status that refused it; `campaign` is re-read."""
    moved = move(campaign.pk, action, **fields)
    campaign.refresh_from_db()
    if not moved:
        refused = gettext(TRANSITIONS[action].refused)
        raise InvalidInput(refused % {"campaign": campaign.pk, "status": campaign.status})
