"""The engine's hook (delivery.batches.row_builders): a step's rows, checked as they are built.

A step campaign has no list to re-check people against (a date or API trigger
has none at all), so the sequence's own rule decides: a person who
unsubscribed, bounced or was suppressed since reaching the step is skipped.
"""

from collections.abc import Callable

from postroom.audience.models import Subscriber
from postroom.automations.engine import why_not
from postroom.automations.models import StepCampaign
from postroom.automations.services import allowed
from postroom.delivery.batches import CampaignContext, NotMailable
from postroom.delivery.ledger import Claimed
from postroom.mail.compose import BuiltMessage, Recipient


def build_rows(context: CampaignContext, rows: list[Claimed]) -> Callable[[Claimed], BuiltMessage]:
    """Check the batch's people in two queries; the returned function builds one row."""
    link = (
        StepCampaign.objects.select_related("step__automation")
        .filter(campaign_id=context.campaign.pk)
        .first()
    )
    ids = [r.subscriber_id for r in rows if r.subscriber_id is not None]
    mailable: set[int] = set()
    if link is not None and link.step is not None:
        mailable = set(
            allowed(link.step.automation).filter(pk__in=ids).values_list("pk", flat=True)
        )
    gone = [sid for sid in ids if sid not in mailable]
    reasons = why_not(gone) if gone else {}
    people = {
        pk: (name, attributes or {})
        for pk, name, attributes in Subscriber.objects.filter(pk__in=ids).values_list(
            "pk", "name", "attributes"
        )
    }

    def build(row: Claimed) -> BuiltMessage:
        sid = row.subscriber_id
        if sid is None:
            raise NotMailable("the subscriber was erased")
        if link is None or link.step is None:
            raise NotMailable("the sequence step was deleted")
        if sid not in mailable:
            raise NotMailable(f"not sent: {reasons.get(sid, 'no longer subscribed')}")
        name, attributes = people[sid]
        return context.compiled.build(Recipient(sid, row.email, name, attributes))

    return build
