"""Every trigger records an alert and emails the admins, once per open condition."""

from datetime import timedelta
from email import message_from_bytes
from email.policy import default

import pytest
from django.utils import timezone

from postroom.alerts import services, watch
from postroom.alerts.models import Alert
from postroom.delivery import control
from postroom.delivery.models import OutboxMessage, Sender
from postroom.delivery.worker import DeliveryWorker
from postroom.testing.smtpserver import CaptureServer
from tests.delivery.helpers import make_audience, make_campaign, run_until_idle, smtp_sender
from tests.delivery.test_recovery import dead_worker_claims

pytestmark = pytest.mark.django_db(transaction=True)


def alert_mail(*addresses: str) -> list[OutboxMessage]:
    return list(OutboxMessage.objects.filter(rcpt_to__in=addresses, campaign=None))


def parsed(data: bytes):
    return message_from_bytes(bytes(data), policy=default)


@pytest.fixture
def admins(owner, teammate, outsider, django_user_model):
    """Two admins with addresses, one without, an inactive one, and a non-staff outsider."""
    django_user_model.objects.create_user("noaddress", "", "pw-x-1", is_staff=True)
    django_user_model.objects.create_user(
        "gone", "gone@example.org", "pw-x-2", is_staff=True, is_active=False
    )
    return [owner, teammate]


def test_a_campaign_that_pauses_itself_emails_every_active_admin_through_the_outbox(admins):
    campaign = make_campaign(make_audience(3), name="Autumn")
    control.start(campaign)

    control.auto_pause(campaign.pk, "25 of the last 100 recipients failed permanently")

    alert = Alert.objects.get()
    assert alert.kind == "campaign_paused" and alert.campaign_id == campaign.pk
    assert alert.title == "campaign “Autumn” paused itself"
    assert "25 of the last 100" in alert.message
    mail = alert_mail("owner@example.org", "teammate@example.org", "gone@example.org")
    assert sorted(m.rcpt_to for m in mail) == ["owner@example.org", "teammate@example.org"]
    email = parsed(mail[0].data)
    assert email["Subject"] == "Postroom: campaign “Autumn” paused itself"
    assert email["Auto-Submitted"] == "auto-generated"
    body = email.get_content()
    assert "25 of the last 100 recipients failed permanently" in body
    assert f"/campaigns/{campaign.pk}/" in body
    assert not OutboxMessage.objects.filter(rcpt_to="outsider@example.org").exists()
    alert.refresh_from_db()
    assert (alert.emailed, alert.email_via) == (2, "the local outbox")


def test_the_same_open_condition_alerts_once_and_counts_the_repeats(admins):
    first = services.notify("worker_died", "worker_died", "a worker stopped", "campaign #1")
    again = services.notify("worker_died", "worker_died", "a worker stopped", "campaign #2")

    assert first is not None and again is None
    alert = Alert.objects.get()
    assert alert.repeats == 2 and alert.message == "campaign #2"
    assert len(alert_mail("owner@example.org")) == 1


def test_a_pause_after_a_resume_is_news_again(admins):
    campaign = make_campaign(make_audience(3))
    control.start(campaign)
    control.auto_pause(campaign.pk, "first reason")
    control.resume(campaign)
    control.auto_pause(campaign.pk, "second reason")

    assert list(Alert.objects.order_by("id").values_list("message", flat=True)) == [
        "first reason",
        "second reason",
    ]
    assert len(alert_mail("owner@example.org")) == 2


def test_a_finished_campaign_tells_the_admins_what_happened(admins):
    campaign = make_campaign(make_audience(4), name="Winter")
    control.start(campaign)

    run_until_idle()

    alert = Alert.objects.get(kind="campaign_finished")
    assert alert.title == "campaign “Winter” finished"
    assert alert.message == "4 sent"
    assert alert.level == "success"
    assert len(alert_mail("owner@example.org")) == 1


def test_a_dead_workers_recovered_rows_alert_the_admins(admins):
    campaign = make_campaign(make_audience(10))
    control.start(campaign)
    dead_worker_claims(campaign, handed=3, claimed=4)

    run_until_idle()

    alert = Alert.objects.get(kind="worker_died")
    assert "4 recipients back in the queue, 3 in doubt" in alert.message
    assert alert.campaign_id == campaign.pk
    assert len(alert_mail("owner@example.org")) == 2  # this and "finished"


def waiting_sender(minutes_ago: float, name: str = "relay") -> Sender:
    return Sender.objects.create(
        name=name,
        host="127.0.0.1",
        port=9,
        failing_since=timezone.now() - timedelta(minutes=minutes_ago),
        consecutive_failures=3,
        backoff_until=timezone.now() + timedelta(seconds=20),
        last_error="connection refused",
    )


def test_a_sender_waiting_longer_than_the_set_time_alerts_once_per_outage(admins, settings):
    settings.POSTROOM_ALERT_SENDER_WAITING_MINUTES = 10
    recent = waiting_sender(minutes_ago=3, name="recent")
    sender = waiting_sender(minutes_ago=12)

    worker = DeliveryWorker()
    worker.maintain(force=True)  # the worker's periodic maintenance checks senders
    worker.maintain(force=True)
    worker.close()

    alert = Alert.objects.get()
    assert alert.sender_id == sender.pk and alert.kind == "sender_waiting"
    assert alert.title == "sender “relay” has been unreachable for 12 minutes"
    assert "Last error: connection refused" in alert.message
    assert not Alert.objects.filter(sender=recent).exists()
    services.acknowledge(alert.pk, admins[0])
    watch.check_waiting_senders()  # acknowledged, but the same outage: no new alert
    assert Alert.objects.count() == 1
    assert len(alert_mail("owner@example.org")) == 1

    Sender.objects.filter(pk=sender.pk).update(failing_since=None, consecutive_failures=0)
    watch.check_waiting_senders()
    alert.refresh_from_db()
    assert alert.cleared_at is not None

    Sender.objects.filter(pk=sender.pk).update(failing_since=timezone.now() - timedelta(hours=1))
    watch.check_waiting_senders()  # a new outage alerts again
    assert Alert.objects.filter(sender=sender).count() == 2
    assert len(alert_mail("owner@example.org")) == 2


def test_alert_email_goes_through_the_notification_sender(admins):
    with CaptureServer() as server:
        services.set_notification_sender(smtp_sender(server, envelope_from="ops@example.org").pk)
        campaign = make_campaign(make_audience(2), name="Spring")
        control.start(campaign)
        control.auto_pause(campaign.pk, "too many bounces")

    assert sorted(r for m in server.messages for r in m.rcpt_to) == [
        "owner@example.org",
        "teammate@example.org",
    ]
    message = server.messages[0]
    assert message.mail_from == "ops@example.org"
    assert parsed(message.data)["Subject"] == "Postroom: campaign “Spring” paused itself"
    assert not alert_mail("owner@example.org")
    alert = Alert.objects.get()
    assert (alert.emailed, alert.email_via) == (2, "relay")


def test_a_notification_sender_that_is_waiting_is_passed_over_for_the_outbox(admins):
    services.set_notification_sender(waiting_sender(minutes_ago=1).pk)

    services.notify("worker_died", "worker_died", "a worker stopped")

    alert = Alert.objects.get()
    assert alert.emailed == 2
    assert alert.email_via == "the local outbox ('relay' is unreachable)"
    assert len(alert_mail("owner@example.org")) == 1


def test_mail_that_cannot_go_never_fails_the_caller_and_says_why(admins):
    server = CaptureServer()
    server.start()
    sender = smtp_sender(server)
    server.stop()  # nothing listens there any more, and the sender does not know yet
    services.set_notification_sender(sender.pk)
    campaign = make_campaign(make_audience(2))
    control.start(campaign)

    assert control.auto_pause(campaign.pk, "too many bounces") is True

    alert = Alert.objects.get()
    assert alert.emailed == 0
    assert alert.email_error  # the connection error, shown on the dashboard
    assert not alert_mail("owner@example.org")


def test_nobody_to_email_is_recorded_not_raised(owner):
    owner.email = ""
    owner.save()
    services.notify("worker_died", "worker_died", "a worker stopped")
    alert = Alert.objects.get()
    assert alert.email_error == "no active admin has an email address"
