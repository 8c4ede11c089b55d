"""The engine end to end through the local outbox: ledger, worker steps, control."""

import pytest

from postroom.audience import services as audience
from postroom.campaigns.models import Campaign
from postroom.delivery import control, progress
from postroom.delivery.handover import PART_SIZE, PARTS_IN_FLIGHT
from postroom.delivery.models import CampaignEvent, Delivery, OutboxMessage
from postroom.delivery.worker import DeliveryWorker
from postroom.errors import InvalidInput
from tests.delivery.helpers import make_audience, make_campaign, run_until_idle, states

pytestmark = pytest.mark.django_db(transaction=True)


def test_start_builds_one_pending_row_per_recipient():
    news = make_audience(30)
    campaign = make_campaign(news)

    count = control.start(campaign)

    assert count == 30
    assert campaign.status == Campaign.Status.RUNNING
    assert Delivery.objects.filter(campaign=campaign, state="pending").count() == 30
    assert CampaignEvent.objects.filter(campaign=campaign, kind="started").exists()


def test_the_ledger_is_in_the_audiences_order_whatever_the_plan():
    """Ledger order is send order and the order an error threshold reads: the
    subscribers' own, not the order a scan happened to produce. On PostgreSQL a changed
    row moves to the end of its table, so a plain scan meets the first half last."""
    from postroom.audience.models import Subscriber

    news = make_audience(400)
    first_half = Subscriber.objects.order_by("id").values_list("id", flat=True)[:200]
    Subscriber.objects.filter(id__in=list(first_half)).update(name="changed")
    campaign = make_campaign(news)

    control.start(campaign)

    ledger = Delivery.objects.filter(campaign=campaign).order_by("id")
    subscriber_ids = list(ledger.values_list("subscriber_id", flat=True))
    assert len(subscriber_ids) == 400
    assert subscriber_ids == sorted(subscriber_ids)


def test_start_leaves_out_unsubscribed_blocklisted_and_suppressed():
    news = make_audience(5)
    audience.unsubscribe(audience.get_subscriber("user0@example.net"), None, source="test")
    audience.suppress("user1@example.net", "bounced")
    campaign = make_campaign(news)

    control.start(campaign)

    assert sorted(states(campaign)) == [f"user{i}@example.net" for i in (2, 3, 4)]


def test_a_campaign_cannot_start_twice():
    campaign = make_campaign(make_audience(2))
    control.start(campaign)
    with pytest.raises(InvalidInput, match="is running"):
        control.start(campaign)
    assert Delivery.objects.filter(campaign=campaign).count() == 2


def test_the_worker_sends_everyone_to_the_outbox_and_finishes():
    campaign = make_campaign(make_audience(40))
    control.start(campaign)

    run_until_idle()

    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.FINISHED
    assert set(states(campaign).values()) == {"sent"}
    assert OutboxMessage.objects.count() == 40
    message = OutboxMessage.objects.get(rcpt_to="user7@example.net")
    assert message.subject == "Hello U7"
    assert b"Spring is here" in bytes(message.data)
    row = Delivery.objects.get(campaign=campaign, email="user7@example.net")
    assert row.message_id == message.message_id
    assert row.attempts == 1 and row.sent_at is not None
    assert progress.campaign_counts(campaign)["sent"] == 40
    assert CampaignEvent.objects.filter(campaign=campaign, kind="finished").exists()


def test_parts_that_came_back_are_recorded_without_waiting_for_the_whole_batch():
    campaign = make_campaign(make_audience(PART_SIZE * (PARTS_IN_FLIGHT + 1)))
    control.start(campaign)
    worker = DeliveryWorker()

    worker.process_one_batch()  # claims, renders and launches: two parts go out, one waits
    rows = Delivery.objects.filter(campaign=campaign)
    assert rows.filter(state="sending", handed_at__isnull=False).count() == PART_SIZE * 2
    assert rows.filter(state="sending", handed_at__isnull=True).count() == PART_SIZE
    assert OutboxMessage.objects.count() == PART_SIZE * 2  # the outbox answers at once

    # What the worker does every few messages while it renders the next batch.
    worker.advance_flight()

    assert set(states(campaign).values()) == {"sent"}
    assert OutboxMessage.objects.count() == PART_SIZE * 3
    worker.close()


def test_it_skips_recipients_who_unsubscribed_after_the_start():
    campaign = make_campaign(make_audience(6))
    control.start(campaign)
    audience.unsubscribe(audience.get_subscriber("user2@example.net"), None, source="test")
    audience.blocklist(audience.subscribers_in([audience.get_subscriber("user3@example.net").pk]))

    run_until_idle()

    rows = {d.email: d for d in Delivery.objects.filter(campaign=campaign)}
    assert rows["user2@example.net"].state == "skipped"
    assert "unsubscribed" in rows["user2@example.net"].error
    assert rows["user3@example.net"].state == "skipped"
    assert "blocklisted" in rows["user3@example.net"].error
    assert OutboxMessage.objects.count() == 4


def test_a_paused_campaign_sends_nothing_until_resumed():
    campaign = make_campaign(make_audience(10))
    control.start(campaign)
    control.pause(campaign, "checking the links")

    run_until_idle()
    assert OutboxMessage.objects.count() == 0
    assert progress.campaign_counts(campaign)["pending"] == 10

    control.resume(campaign)
    run_until_idle()
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.FINISHED
    assert OutboxMessage.objects.count() == 10


def test_cancel_skips_everyone_not_yet_sent():
    campaign = make_campaign(make_audience(8))
    control.start(campaign)

    skipped = control.cancel(campaign)
    run_until_idle()

    assert skipped == 8
    assert set(states(campaign).values()) == {"skipped"}
    assert OutboxMessage.objects.count() == 0


def test_retry_failed_requeues_only_failed_rows():
    campaign = make_campaign(make_audience(4))
    control.start(campaign)
    run_until_idle()
    Delivery.objects.filter(campaign=campaign, email="user1@example.net").update(
        state="failed", error="550 mailbox unavailable"
    )

    count = control.retry_failed(campaign, reason="550")
    run_until_idle()

    assert count == 1
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.FINISHED
    assert OutboxMessage.objects.filter(rcpt_to="user1@example.net").count() == 2
    assert OutboxMessage.objects.filter(rcpt_to="user2@example.net").count() == 1


def test_retry_failed_refuses_a_running_campaign():
    campaign = make_campaign(make_audience(2))
    control.start(campaign)
    with pytest.raises(InvalidInput, match="finished or paused"):
        control.retry_failed(campaign)


class BrokenTransport:
    """A provider module whose API call blows up, registered like any other."""

    def __init__(self, sender, journal=None) -> None:
        pass

    def submit(self, messages, campaign_id=None):
        raise RuntimeError("provider API is down")

    def check(self):
        raise RuntimeError("provider API is down")

    def close(self) -> None:
        pass


def test_a_broken_transport_costs_no_attempts_and_the_campaign_waits(monkeypatch, settings):
    from postroom.delivery import progress
    from postroom.delivery.models import Sender
    from postroom.delivery.transports import TRANSPORTS

    settings.POSTROOM_SENDER_BACKOFF_SECONDS = 0.01
    monkeypatch.setitem(TRANSPORTS, "broken", BrokenTransport)
    sender = Sender.objects.create(name="api", kind="broken", host="-")
    campaign = make_campaign(make_audience(3), sender=sender)
    control.start(campaign)

    run_until_idle()

    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.RUNNING
    assert "provider API is down" in progress.summary(campaign)["waiting"]["error"]
    assert set(states(campaign).values()) == {"pending"}
    assert set(Delivery.objects.filter(campaign=campaign).values_list("attempts", flat=True)) == {0}


def test_only_people_changed_since_the_start_are_checked_again_and_they_are_skipped():
    from datetime import timedelta

    from django.utils import timezone

    from postroom.audience.models import Subscriber, Subscription

    news = make_audience(5)
    long_ago = timezone.now() - timedelta(days=30)
    Subscriber.objects.update(updated_at=long_ago)
    Subscription.objects.update(updated_at=long_ago)
    campaign = make_campaign(news)
    control.start(campaign)
    audience.unsubscribe(audience.get_subscriber("user1@example.net"), [news], source="test")
    audience.suppress("user2@example.net", "complained")

    run_until_idle()

    rows = {d.email: d for d in Delivery.objects.filter(campaign=campaign)}
    assert rows["user1@example.net"].state == "skipped"
    assert rows["user2@example.net"].state == "skipped"
    assert "suppressed" in rows["user2@example.net"].error
    assert OutboxMessage.objects.count() == 3
