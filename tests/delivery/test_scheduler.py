"""The scheduler's decisions, one grant at a time, with an injected clock (no SMTP)."""

import itertools
import threading
import time
from collections import Counter

import pytest

from postroom.campaigns.models import Campaign
from postroom.delivery import ratelimit, scheduler
from postroom.delivery.models import CampaignShare, Delivery, Sender, SendSlot


def make_campaign(name: str, sender: Sender | None, recipients: int = 50, priority: int = 1):
    campaign = Campaign.objects.create(
        name=name,
        subject=name,
        from_email="news@example.org",
        sender=sender,
        priority=priority,
        status=Campaign.Status.RUNNING,
    )
    Delivery.objects.bulk_create(
        Delivery(campaign=campaign, email=f"r{i}@{name}.example") for i in range(recipients)
    )
    return campaign


def grants_until(worker: str, start: float, seconds: float, step: float = 0.25):
    """Ask for grants the way a worker loop does, as the clock moves on."""
    grants = []
    now = start
    while now < start + seconds and len(grants) < 10_000:
        grant = scheduler.next_grant(worker, now=now)
        if grant is None:
            now += step
        else:
            grants.append(grant)
    return grants


@pytest.fixture
def limited(db):
    sender = Sender.objects.create(name="limited", host="smtp.example.net")
    ratelimit.set_limits(sender, ["5/second"])
    return sender


def test_it_returns_none_when_nothing_runs(db):
    make_campaign("draft", None).__class__.objects.update(status=Campaign.Status.DRAFT)
    assert scheduler.next_grant("w1") is None


def test_campaigns_on_the_outbox_get_big_grants_without_send_times(db):
    campaign = make_campaign("outbox", None)
    grant = scheduler.next_grant("w1")
    assert (grant.campaign_id, grant.sender_id) == (campaign.pk, None)
    assert grant.count == scheduler.MAX_GRANT
    assert grant.send_times is None


def test_a_limited_grant_is_paced_and_short(limited):
    make_campaign("one", limited)
    grant = scheduler.next_grant("w1", now=1000.0)
    # About a second of the sender's sustained rate (5/1.2 s with the safety margin).
    assert grant.count == len(grant.send_times) == 4
    assert grant.send_times[0] == 1000.0
    assert grant.send_times[-1] <= 1000.0 + scheduler.HORIZON
    assert all(b - a >= 0.2 - 1e-9 for a, b in itertools.pairwise(grant.send_times))


def test_three_campaigns_on_one_sender_take_turns(limited):
    campaigns = [make_campaign(name, limited) for name in ("a", "b", "c")]
    grants = grants_until("w1", 1000.0, 12.0)
    sent = Counter()
    for grant in grants:
        sent[grant.campaign_id] += grant.count
    fair = sum(sent.values()) / 3
    assert len(sent) == 3
    for campaign in campaigns:
        assert abs(sent[campaign.pk] - fair) <= 0.1 * fair
    # Each got its first turn within the first second, not after the others.
    first = {}
    for grant in grants:
        first.setdefault(grant.campaign_id, grant.send_times[0])
    assert max(first.values()) - 1000.0 < 1.0


def test_priorities_are_weights(limited):
    weights = {make_campaign(f"p{p}", limited, 500, priority=p).pk: p for p in (1, 2, 3)}
    sent = Counter()
    for grant in grants_until("w1", 1000.0, 30.0):
        sent[grant.campaign_id] += grant.count
    total = sum(sent.values())
    for campaign_id, weight in weights.items():
        expected = total * weight / 6
        assert abs(sent[campaign_id] - expected) <= 0.1 * expected


def test_a_campaign_on_another_sender_does_not_wait(limited):
    ratelimit.set_limits(limited, ["1/hour"])
    slow = make_campaign("slow", limited)
    other = make_campaign("other", Sender.objects.create(name="other", host="mx.example.com"))
    served = [scheduler.next_grant("w1", now=1000.0 + i).campaign_id for i in range(6)]
    # The slow sender had one slot; every other grant went to the other sender.
    assert served.count(slow.pk) == 1
    assert served.count(other.pk) == 5


def test_a_campaign_that_joins_late_does_not_take_everything(limited):
    early = make_campaign("early", limited, 500)
    grants_until("w1", 1000.0, 20.0)
    late = make_campaign("late", limited, 500)
    sent = Counter()
    for grant in grants_until("w1", 1021.0, 10.0):
        sent[grant.campaign_id] += grant.count
    assert sent[early.pk] > 0.4 * sum(sent.values())
    assert sent[late.pk] > 0.4 * sum(sent.values())


def test_releasing_gives_slots_back_and_does_not_charge_the_campaign(limited):
    campaign = make_campaign("one", limited)
    grant = scheduler.next_grant("w1", now=1000.0)
    before = CampaignShare.objects.get(campaign=campaign).pass_value
    scheduler.release(grant, 3)
    assert SendSlot.objects.filter(token=grant.token).count() == grant.count - 3
    assert CampaignShare.objects.get(campaign=campaign).pass_value == pytest.approx(before - 3)


def test_a_full_window_means_no_grant_and_a_wake_up_time(limited):
    ratelimit.set_limits(limited, ["2/hour"])
    make_campaign("one", limited)
    first = scheduler.next_grant("w1", now=1000.0)
    assert first.count == 1
    assert scheduler.next_grant("w1", now=1001.0) is None
    assert scheduler._next_due == pytest.approx(1000.0 + 1800)


def test_limits_changed_while_running_apply_to_the_next_grant(limited):
    make_campaign("one", limited)
    assert scheduler.next_grant("w1", now=1000.0).count == 4
    ratelimit.set_limits(limited, ["1/second"])
    grant = scheduler.next_grant("w1", now=1001.0)
    assert grant.count == 1


def test_a_sender_waiting_for_its_next_try_gets_no_grant(limited):
    from datetime import UTC, datetime

    make_campaign("one", limited)
    Sender.objects.filter(pk=limited.pk).update(
        failing_since=datetime.fromtimestamp(time.time() - 5, tz=UTC),
        backoff_until=datetime.fromtimestamp(time.time() + 60, tz=UTC),
    )
    assert scheduler.next_grant("w1") is None
    assert not SendSlot.objects.exists()
    assert scheduler._next_due == pytest.approx(time.time() + 60, abs=2)


def test_when_its_try_is_due_one_worker_alone_gets_a_small_probe_grant(db):
    from datetime import UTC, datetime

    from postroom.delivery import waiting

    sender = Sender.objects.create(name="down", host="-")
    make_campaign("one", sender, recipients=50)
    Sender.objects.filter(pk=sender.pk).update(
        failing_since=datetime.fromtimestamp(time.time() - 5, tz=UTC),
        backoff_until=datetime.fromtimestamp(time.time() - 0.1, tz=UTC),
    )
    first = scheduler.next_grant("w1")
    second = scheduler.next_grant("w2")

    assert first is not None and first.probe and first.count == waiting.PROBE_SIZE
    assert second is None
    assert Sender.objects.get(pk=sender.pk).probing_until is not None
    scheduler.release(first, first.count)  # never used: the next worker may try
    third = scheduler.next_grant("w3")
    assert third is not None and third.probe


def test_retries_count_as_work_only_once_due(limited):
    from datetime import UTC, datetime

    campaign = make_campaign("one", limited, recipients=1)
    later = datetime.fromtimestamp(2000.0, tz=UTC)
    Delivery.objects.filter(campaign=campaign).update(state="retry", next_attempt_at=later)
    assert scheduler.next_grant("w1", now=1000.0) is None
    assert scheduler.next_grant("w1", now=2001.0).campaign_id == campaign.pk


@pytest.mark.django_db(transaction=True)
def test_sleeping_wakes_soon_after_a_notification():
    def poke():
        time.sleep(0.3)
        scheduler.notify()

    thread = threading.Thread(target=poke)
    started = time.monotonic()
    thread.start()
    scheduler.sleep_until_work(10)
    waited = time.monotonic() - started
    thread.join()
    assert 0.25 < waited < 1.5


@pytest.mark.django_db(transaction=True)
def test_sleeping_wakes_when_the_next_slot_is_due():
    scheduler._next_due = time.time() + 0.3
    started = time.monotonic()
    scheduler.sleep_until_work(10)
    assert time.monotonic() - started < 1.0


def test_a_full_sender_is_looked_at_again_once_its_limits_change(limited):
    ratelimit.set_limits(limited, ["1/hour"])
    make_campaign("one", limited)
    assert scheduler.next_grant("w1", now=1000.0) is not None
    assert scheduler.next_grant("w1", now=1001.0) is None  # remembered as full
    ratelimit.set_limits(limited, ["10/second"])
    assert scheduler.next_grant("w1", now=1002.0) is not None
