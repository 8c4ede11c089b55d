"""Building audiences and campaigns quickly for delivery tests."""

from postroom.audience.emails import email_hash
from postroom.audience.models import MailingList, Subscriber, Subscription
from postroom.campaigns.models import Campaign
from postroom.delivery.models import Delivery
from postroom.delivery.worker import DeliveryWorker


def make_audience(count: int, list_name: str = "news", domain: str = "example.net") -> MailingList:
    """`count` confirmed subscribers user0@domain... on a single opt-in list."""
    mailing_list, _ = MailingList.objects.get_or_create(name=list_name)
    start = Subscriber.objects.count()
    subscribers = []
    for i in range(start, start + count):
        email = f"user{i}@{domain}"
        subscribers.append(
            Subscriber(
                email=email,
                email_hash=email_hash(email),
                name=f"User {i}",
                attributes={"first_name": f"U{i}"},
            )
        )
    Subscriber.objects.bulk_create(subscribers, batch_size=1000)
    created = Subscriber.objects.filter(email__in=[s.email for s in subscribers])
    Subscription.objects.bulk_create(
        [
            Subscription(
                subscriber=s,
                mailing_list=mailing_list,
                status=Subscription.Status.CONFIRMED,
                consent_source=Subscription.Source.ADMIN,
            )
            for s in created
        ],
        batch_size=1000,
    )
    return mailing_list


def make_campaign(mailing_list: MailingList, sender=None, **fields) -> Campaign:
    values = {
        "name": "Spring news",
        "subject": "Hello {{ subscriber.first_name }}",
        "from_email": "news@example.org",
        "body": "# Hi {{ subscriber.name }}\n\nSpring is here.",
        "sender": sender,
    }
    values.update(fields)
    campaign = Campaign.objects.create(**values)
    campaign.lists.add(mailing_list)
    return campaign


def run_until_idle(worker: DeliveryWorker | None = None, max_steps: int = 10_000) -> DeliveryWorker:
    """Drive a worker step by step until it finds nothing to do (no sleeping, no threads)."""
    worker = worker or DeliveryWorker()
    for _ in range(max_steps):
        if not worker.process_one_batch():
            break
    worker.maintain(force=True)  # finishes campaigns whose last batch was just recorded
    return worker


def states(campaign: Campaign) -> dict[str, str]:
    return dict(Delivery.objects.filter(campaign=campaign).values_list("email", "state"))


def run_until_settled(campaign: Campaign, worker: DeliveryWorker | None = None, timeout=20.0):
    """Step a worker until the campaign is no longer running (retries take real time)."""
    import time

    worker = worker or DeliveryWorker()
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not worker.process_one_batch():
            worker.maintain(force=True)
            campaign.refresh_from_db()
            if campaign.status != Campaign.Status.RUNNING:
                return worker
            time.sleep(0.02)
    raise AssertionError(f"campaign still {campaign.status} after {timeout} s")


def smtp_sender(server, name: str = "relay", **fields):
    from postroom.delivery.models import Sender

    values = {"host": server.host, "port": server.port, "tls": "none", "max_connections": 2}
    values.update(fields)
    return Sender.objects.create(name=name, **values)


def finished_with_doubt(server, count: int = 8, **fields) -> Campaign:
    """A campaign of `count` sent through `server` until settled, as a real send leaves it:
    the recipients the server hangs up on after their body (its `drop_data`) are in doubt."""
    from postroom.delivery import control

    campaign = make_campaign(make_audience(count), sender=smtp_sender(server), **fields)
    control.start(campaign)
    run_until_settled(campaign)
    return campaign
