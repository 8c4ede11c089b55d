"""Webhook steps: one signed delivery per person, step and cycle, to the step's endpoint.

The engine collects the calls of a pass and `queue` writes them in the pass's own
transaction, so the delivery and the person's new place commit together. The
event id is derived from the enrolment, the step and the cycle, and the outbox
keeps one row per endpoint and such id (webhooks' `webhook_step_once`): a pass
run again after a crash, or a person coming back to the step, queues nothing
twice. The webhooks sender then delivers and retries it like any other event.
"""

import hashlib
from dataclasses import dataclass

from postroom.audience.models import Subscriber
from postroom.automations.models import Automation, Step
from postroom.webhooks.events import STEP, envelope
from postroom.webhooks.models import WebhookDelivery
from postroom.webhooks.triggers import subscriber_data


@dataclass(frozen=True)
class Call:
    enrolment_id: int
    subscriber_id: int
    cycle: int
    step: Step
    automation: Automation


def event_id(enrolment_id: int, step_id: int, cycle: int) -> str:
    """The same for the same person, step and cycle, whoever computes it and when."""
    key = f"{STEP}:{enrolment_id}:{step_id}:{cycle}".encode()
    return hashlib.sha256(key).hexdigest()[:32]


def queue(calls: list[Call]) -> int:
    """Write the deliveries of `calls` (in the caller's transaction); a repeat is dropped."""
    if not calls:
        return 0
    people = Subscriber.objects.in_bulk([c.subscriber_id for c in calls])
    rows = []
    for call in calls:
        person = people.get(call.subscriber_id)
        if person is None or call.step.endpoint_id is None:
            continue
        data = {
            "automation": {"id": call.automation.pk, "name": call.automation.name},
            "step": call.step.position,
            "cycle": call.cycle,
            "subscriber": subscriber_data(person),
        }
        eid, body = envelope(STEP, data, event_id(call.enrolment_id, call.step.pk, call.cycle))
        rows.append(
            WebhookDelivery(endpoint_id=call.step.endpoint_id, event=STEP, event_id=eid, body=body)
        )
    WebhookDelivery.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)
