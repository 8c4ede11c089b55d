"""The foundation the sequence engine stands on: once per person and cycle, steps stay open."""

import pytest
from django.db import IntegrityError, transaction

from postroom.audience.models import Subscriber
from postroom.automations.models import Automation, Enrolment
from postroom.campaigns import lifecycle
from postroom.campaigns.models import Campaign

pytestmark = pytest.mark.django_db


def test_a_person_enters_a_sequence_once_per_cycle():
    automation = Automation.objects.create(
        name="Welcome", trigger=Automation.Trigger.API, from_email="news@example.com"
    )
    person = Subscriber.objects.create(email="ada@example.com")
    Enrolment.objects.create(automation=automation, subscriber=person, cycle=2026)
    Enrolment.objects.create(automation=automation, subscriber=person, cycle=2027)
    with pytest.raises(IntegrityError), transaction.atomic():
        Enrolment.objects.create(automation=automation, subscriber=person, cycle=2026)
    assert Enrolment.objects.filter(subscriber=person).count() == 2


def test_a_step_campaign_never_finishes_it_stands_open_for_the_next_person():
    step = Campaign.objects.create(
        name="Welcome · step 1",
        kind=Campaign.Kind.AUTOMATION,
        subject="Hi",
        from_email="news@example.com",
        status=Campaign.Status.RUNNING,
    )
    assert not lifecycle.move(step.pk, "finish")
    step.refresh_from_db()
    assert step.status == Campaign.Status.RUNNING
    assert lifecycle.move(step.pk, "pause")  # pausing a sequence pauses its steps
