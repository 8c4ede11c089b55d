"""Recovering from workers that died, and saying so when a campaign stalls."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from postroom.delivery import control, ledger, progress
from postroom.delivery.models import CampaignEvent, CampaignRun, Delivery, Worker
from postroom.delivery.worker import DeliveryWorker
from tests.delivery.helpers import make_audience, make_campaign, run_until_idle

pytestmark = pytest.mark.django_db(transaction=True)


def dead_worker_claims(campaign, handed: int, claimed: int) -> str:
    """Rows as a worker that just died left them: some on the wire, some only claimed."""
    worker_id = "elsewhere:4242:dead00"
    Worker.objects.create(
        id=worker_id, host="elsewhere", pid=4242, last_seen=timezone.now() - timedelta(minutes=5)
    )
    rows = ledger.claim(campaign.pk, handed + claimed, worker_id)
    ledger.hand_over([r.id for r in rows[:handed]], worker_id)
    return worker_id


def test_a_dead_workers_rows_are_requeued_or_marked_in_doubt():
    campaign = make_campaign(make_audience(10))
    control.start(campaign)
    dead_worker_claims(campaign, handed=3, claimed=4)

    run_until_idle()

    states = list(Delivery.objects.filter(campaign=campaign).values_list("state", flat=True))
    assert states.count("in_doubt") == 3
    assert states.count("sent") == 7
    event = CampaignEvent.objects.get(campaign=campaign, kind="recovered")
    assert "4 recipients back in the queue, 3 in doubt" in event.message
    assert not Worker.objects.filter(id__startswith="elsewhere").exists()


def test_with_the_resend_policy_in_doubt_rows_are_sent_again():
    campaign = make_campaign(make_audience(5), in_doubt_policy="resend")
    control.start(campaign)
    dead_worker_claims(campaign, handed=2, claimed=0)

    run_until_idle()

    assert set(Delivery.objects.filter(campaign=campaign).values_list("state", flat=True)) == {
        "sent"
    }


def test_expired_leases_are_reclaimed_even_without_a_worker_row():
    campaign = make_campaign(make_audience(4))
    control.start(campaign)
    rows = ledger.claim(campaign.pk, 4, "ghost:1:abc")
    Delivery.objects.filter(id__in=[r.id for r in rows]).update(
        lease_until=timezone.now() - timedelta(seconds=1)
    )

    run_until_idle()

    assert Delivery.objects.filter(campaign=campaign, state="sent").count() == 4


def test_stopping_mid_batch_records_what_was_sent_and_returns_the_rest():
    campaign = make_campaign(make_audience(450))
    control.start(campaign)
    worker = DeliveryWorker()
    worker.process_one_batch()  # one batch handed over, in parts
    worker.stopping = True
    worker.close()

    states = set(Delivery.objects.filter(campaign=campaign).values_list("state", flat=True))
    assert states == {"sent", "pending"}
    assert not Worker.objects.filter(id=worker.id).exists()


def test_a_running_campaign_without_a_worker_says_so():
    campaign = make_campaign(make_audience(3))
    control.start(campaign)
    Worker.objects.all().delete()
    assert progress.stall_reason(campaign) == "no worker is running — start `postroom worker`"


def test_a_campaign_that_stopped_moving_says_so():
    campaign = make_campaign(make_audience(3))
    control.start(campaign)
    ledger.heartbeat("here:1:live")
    CampaignRun.objects.filter(campaign=campaign).update(last_progress=time.time() - 900)
    campaign.started_at = timezone.now() - timedelta(minutes=20)
    reason = progress.stall_reason(campaign)
    assert reason.startswith("nothing has progressed for 15 minutes")


def test_a_campaign_that_moves_is_not_stalled():
    campaign = make_campaign(make_audience(3))
    control.start(campaign)
    ledger.heartbeat("here:1:live")
    assert progress.stall_reason(campaign) == ""


def test_a_worker_never_hands_over_rows_another_worker_recovered():
    campaign = make_campaign(make_audience(4))
    control.start(campaign)
    rows = ledger.claim(campaign.pk, 4, "slow:1:aaa")
    # Taken for dead, its rows were recovered and claimed by another worker meanwhile.
    Delivery.objects.filter(id__in=[r.id for r in rows[:3]]).update(worker="fast:2:bbb")

    handed = ledger.hand_over([r.id for r in rows], "slow:1:aaa")

    assert handed == [rows[3].id]
    assert Delivery.objects.filter(campaign=campaign, handed_at__isnull=False).count() == 1
