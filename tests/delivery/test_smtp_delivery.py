"""Campaigns through a real SMTP server, and through one told to misbehave."""

import pytest

from postroom.campaigns.models import Campaign
from postroom.delivery import control, progress
from postroom.delivery.models import CampaignEvent, Delivery, OutboxMessage
from postroom.delivery.worker import DeliveryWorker
from postroom.testing.smtpserver import CaptureServer
from tests.delivery.helpers import (
    make_audience,
    make_campaign,
    run_until_settled,
    smtp_sender,
    states,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def quick_backoff(settings):
    settings.POSTROOM_RETRY_BASE_SECONDS = 0.05
    settings.POSTROOM_SENDER_BACKOFF_SECONDS = 0.05


def received_by(server) -> list[str]:
    return sorted(r for m in server.messages for r in m.rcpt_to)


def test_it_delivers_every_recipient_once_through_smtp():
    with CaptureServer() as server:
        campaign = make_campaign(make_audience(25), sender=smtp_sender(server))
        control.start(campaign)

        run_until_settled(campaign)

    assert campaign.status == Campaign.Status.FINISHED
    assert received_by(server) == sorted(states(campaign))
    row = Delivery.objects.get(campaign=campaign, email="user3@example.net")
    assert row.state == "sent" and row.reply.startswith("250")
    assert row.sender_id == campaign.sender_id
    assert server.messages[0].message_id in set(
        Delivery.objects.filter(campaign=campaign).values_list("message_id", flat=True)
    )


def test_a_permanent_rejection_fails_that_recipient_and_the_campaign_goes_on():
    bad = "user2@example.net"
    with CaptureServer(rcpt_reply={bad: "550 5.1.1 no such user"}) as server:
        campaign = make_campaign(make_audience(30), sender=smtp_sender(server))
        control.start(campaign)
        run_until_settled(campaign)

    assert campaign.status == Campaign.Status.FINISHED
    row = Delivery.objects.get(campaign=campaign, email=bad)
    assert row.state == "failed"
    assert "550 5.1.1 no such user" in row.reply
    assert len(received_by(server)) == 29


def test_a_temporary_rejection_is_retried_with_back_off_until_it_goes_through():
    slow = "user1@example.net"
    with CaptureServer(fail_first={slow: (2, "451 4.7.1 greylisted, try later")}) as server:
        campaign = make_campaign(make_audience(5), sender=smtp_sender(server))
        control.start(campaign)
        run_until_settled(campaign)

    row = Delivery.objects.get(campaign=campaign, email=slow)
    assert row.state == "sent"
    assert row.attempts == 3
    assert received_by(server).count(slow) == 1
    assert campaign.status == Campaign.Status.FINISHED


def test_a_recipient_deferred_too_often_fails_with_the_last_reply(settings):
    settings.POSTROOM_MAX_ATTEMPTS = 3
    stuck = "user0@example.net"
    with CaptureServer(rcpt_reply={stuck: "452 4.2.2 mailbox full"}) as server:
        campaign = make_campaign(make_audience(3), sender=smtp_sender(server))
        control.start(campaign)
        run_until_settled(campaign)

    row = Delivery.objects.get(campaign=campaign, email=stuck)
    assert row.state == "failed"
    assert row.attempts == 3
    assert "gave up after 3 attempts" in row.error and "mailbox full" in row.error


def test_a_421_hang_up_requeues_the_message_without_spending_an_attempt():
    with CaptureServer(fail_first={"*": (1, "421 4.3.2 too busy, come back later")}) as server:
        campaign = make_campaign(make_audience(6), sender=smtp_sender(server))
        control.start(campaign)
        run_until_settled(campaign)

    assert campaign.status == Campaign.Status.FINISHED
    assert received_by(server) == sorted(states(campaign))
    assert set(Delivery.objects.filter(campaign=campaign).values_list("attempts", flat=True)) == {1}


def test_a_connection_dropped_after_the_body_leaves_the_recipient_in_doubt():
    dropped = "user4@example.net"
    with CaptureServer(drop_data={dropped: 1}) as server:
        campaign = make_campaign(make_audience(8), sender=smtp_sender(server))
        control.start(campaign)
        run_until_settled(campaign)

    row = Delivery.objects.get(campaign=campaign, email=dropped)
    assert row.state == "in_doubt"
    assert "may have accepted" in row.error
    assert campaign.status == Campaign.Status.FINISHED
    assert dropped not in received_by(server)
    assert len(received_by(server)) == 7


def test_with_the_resend_policy_a_dropped_message_is_sent_again():
    dropped = "user4@example.net"
    with CaptureServer(drop_data={dropped: 1}) as server:
        campaign = make_campaign(
            make_audience(8), sender=smtp_sender(server), in_doubt_policy="resend"
        )
        control.start(campaign)
        run_until_settled(campaign)

    assert Delivery.objects.get(campaign=campaign, email=dropped).state == "sent"
    assert received_by(server) == sorted(states(campaign))


def test_slow_replies_still_deliver_everyone():
    with CaptureServer(delay={"DATA": 0.05, "RCPT": 0.01}) as server:
        campaign = make_campaign(make_audience(12), sender=smtp_sender(server))
        control.start(campaign)
        run_until_settled(campaign)

    assert set(states(campaign).values()) == {"sent"}
    assert len(server.messages) == 12


def test_a_server_that_refuses_connections_makes_the_campaign_wait_without_spending_attempts(
    owner,
):
    server = CaptureServer()
    server.start()
    sender = smtp_sender(server)
    server.stop()  # the port now refuses connections
    campaign = make_campaign(make_audience(5), sender=sender)
    control.start(campaign)

    worker = DeliveryWorker()
    for _ in range(5):
        worker.process_one_batch()

    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.RUNNING
    assert set(states(campaign).values()) == {"pending"}
    assert set(Delivery.objects.filter(campaign=campaign).values_list("attempts", flat=True)) == {0}
    waits = progress.summary(campaign)["waiting"]
    assert waits["sender"] == "relay" and "refused" in waits["error"]
    assert CampaignEvent.objects.filter(campaign=campaign, kind="sender_error").exists()
    assert not CampaignEvent.objects.filter(campaign=campaign, kind="auto_paused").exists()
    assert not OutboxMessage.objects.filter(rcpt_to=owner.email).exists()
    worker.close()


def test_too_many_permanent_failures_pause_the_campaign_with_the_reason(owner):
    # Every other one of the first 60 of 120 is refused: the first part (50) already passes
    # the threshold with 70 still to send. With all recipients in that one part, recording
    # it could finish the campaign before the check after it ran (the pause came too late).
    rejected = {f"user{i}@example.net": "550 5.1.1 unknown" for i in range(0, 60, 2)}
    with CaptureServer(rcpt_reply=rejected) as server:
        sender = smtp_sender(server)
        campaign = make_campaign(
            make_audience(120), sender=sender, error_threshold_percent=30, error_window=20
        )
        control.start(campaign)
        run_until_settled(campaign)

    assert campaign.status == Campaign.Status.PAUSED
    assert "failed permanently" in campaign.status_reason
    event = CampaignEvent.objects.get(campaign=campaign, kind="auto_paused")
    assert "more than 30% of the last 20 recipients" in event.message
    # The alert goes to the admins through the notification sender (default: the outbox).
    assert owner.email not in received_by(server)
    assert OutboxMessage.objects.filter(rcpt_to=owner.email, subject__contains="paused").exists()


def test_a_campaign_sent_in_one_part_past_its_threshold_pauses_instead_of_finishing(owner):
    # All 40 recipients in one part (PART_SIZE is 50), half of them refused: recording that
    # part leaves nothing to send, and the campaign must still pause and alert, not finish.
    rejected = {f"user{i}@example.net": "550 5.1.1 unknown" for i in range(0, 40, 2)}
    with CaptureServer(rcpt_reply=rejected) as server:
        campaign = make_campaign(
            make_audience(40),
            sender=smtp_sender(server),
            error_threshold_percent=30,
            error_window=20,
        )
        control.start(campaign)
        run_until_settled(campaign)

    assert campaign.status == Campaign.Status.PAUSED, campaign.status_reason
    assert "failed permanently" in campaign.status_reason
    assert not CampaignEvent.objects.filter(campaign=campaign, kind="finished").exists()
    assert CampaignEvent.objects.filter(campaign=campaign, kind="auto_paused").count() == 1
    assert OutboxMessage.objects.filter(rcpt_to=owner.email, subject__contains="paused").exists()


def test_a_part_is_judged_by_the_window_ending_with_it_not_by_later_parts_recorded_first():
    # Two connections send two parts side by side: the second part (all delivered) may be
    # recorded before the first part's check runs. The newest 20 outcomes are then clean,
    # but the 20 ending with the first part hold 10 permanent failures.
    campaign = make_campaign(make_audience(80), error_threshold_percent=30, error_window=20)
    control.start(campaign)
    rows = Delivery.objects.filter(campaign=campaign).order_by("id")
    ids = list(rows.values_list("id", flat=True))
    first, second = ids[:40], ids[40:]
    rows.filter(id__in=first[::2]).update(state=Delivery.State.FAILED, reply="550 5.1.1 unknown")
    rows.filter(id__in=first[1::2] + second).update(state=Delivery.State.SENT, reply="250 ok")

    assert not control.pause_if_failing(campaign.pk)
    assert control.pause_if_failing(campaign.pk, upto=first[-1])
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.PAUSED
    assert "10 of the last 20 recipients failed permanently" in campaign.status_reason


def test_a_worker_that_finds_nothing_left_before_the_last_parts_check_pauses_it(owner):
    # The moment between a worker's commit of the last part and its threshold check after
    # it: the ledger holds every outcome, half of them permanent failures, and the campaign
    # still runs. Another worker's housekeeping (or this one's) then finds nothing to send.
    campaign = make_campaign(make_audience(40), error_threshold_percent=30, error_window=20)
    control.start(campaign)
    rows = Delivery.objects.filter(campaign=campaign).order_by("id")
    ids = list(rows.values_list("id", flat=True))
    rows.filter(id__in=ids[::2]).update(state=Delivery.State.FAILED, reply="550 5.1.1 unknown")
    rows.filter(id__in=ids[1::2]).update(state=Delivery.State.SENT, reply="250 ok")

    other = DeliveryWorker()
    other.maintain(force=True)
    other.close()

    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.PAUSED
    assert "10 of the last 20 recipients failed permanently" in campaign.status_reason
    assert not CampaignEvent.objects.filter(campaign=campaign, kind="finished").exists()
    assert OutboxMessage.objects.filter(rcpt_to=owner.email, subject__contains="paused").exists()
    control.resume(campaign)  # someone saw the failures: now it may finish
    other = DeliveryWorker()
    other.maintain(force=True)
    other.close()
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.FINISHED


def test_under_a_rate_limit_messages_leave_at_the_granted_times():
    from postroom.delivery import ratelimit

    with CaptureServer() as server:
        sender = smtp_sender(server)
        ratelimit.set_limits(sender, ["10/second"])
        campaign = make_campaign(make_audience(15), sender=sender)
        control.start(campaign)
        run_until_settled(campaign, timeout=30)

    times = sorted(m.received_at for m in server.messages)
    assert len(times) == 15
    # No one-second window holds more than 10 messages.
    assert all(b - a >= 1.0 for a, b in zip(times, times[10:], strict=False))
