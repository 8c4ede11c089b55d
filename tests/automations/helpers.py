"""Sequences for tests: a list, its joiners, and steps that send."""

from datetime import datetime

from django.db.models import F

from postroom.audience.emails import email_hash
from postroom.audience.models import MailingList, Subscriber, Subscription
from postroom.automations import services
from postroom.automations.models import Automation, Enrolment


def join(mailing_list: MailingList, count: int, start: int = 0, **attributes) -> list[Subscriber]:
    """`count` people join the list now (single opt-in: mailable at once)."""
    people = [
        Subscriber(
            email=f"joiner{i}@example.net",
            email_hash=email_hash(f"joiner{i}@example.net"),
            name=f"Joiner {i}",
            attributes=dict(attributes),
        )
        for i in range(start, start + count)
    ]
    Subscriber.objects.bulk_create(people, batch_size=1000)
    created = list(Subscriber.objects.filter(email__in=[p.email for p in people]))
    Subscription.objects.bulk_create(
        [
            Subscription(
                subscriber=p,
                mailing_list=mailing_list,
                status=Subscription.Status.CONFIRMED,
                consent_source=Subscription.Source.ADMIN,
            )
            for p in created
        ],
        batch_size=1000,
    )
    return created


def welcome(mailing_list: MailingList, sender=None, steps: int = 3, wait: str = "1d") -> Automation:
    """An active welcome series of `steps` sends, each after `wait` but the first."""
    automation = services.create(
        name="Welcome",
        trigger=f"joined:{mailing_list.name}",
        sender=sender.name if sender else None,
        from_email="hello@example.org",
    )
    for n in range(1, steps + 1):
        services.add_step(
            automation,
            subject=f"Welcome {n}, {{{{ subscriber.name }}}}",
            body=f"Step {n} of the welcome series.",
            wait="0" if n == 1 else wait,
        )
    return services.activate(automation)


def fast_forward(automation: Automation, now: datetime) -> int:
    """Every waiting person is due now (as if their wait had passed)."""
    return Enrolment.objects.filter(
        automation=automation, state=Enrolment.State.ACTIVE, next_at__gt=now
    ).update(next_at=F("entered_at"))
