"""Alerts on the dashboard until acknowledged, and the notification sender on Settings."""

import pytest
from django.test import Client
from django.urls import reverse

from postroom.alerts import services
from postroom.alerts.models import Alert, NotificationSettings
from postroom.delivery.models import Sender

pytestmark = pytest.mark.django_db


@pytest.fixture
def alert(owner) -> Alert:
    return services.notify(
        "campaign_paused",
        "campaign_paused:1",
        "campaign “<b>Spring</b>” paused itself",
        "12 of the last 20 recipients failed",
    )


def test_the_dashboard_shows_an_alert_until_someone_acknowledges_it(owner_client, owner, alert):
    page = owner_client.get(reverse("dashboard")).content.decode()
    assert "Campaign “&lt;b&gt;Spring&lt;/b&gt;” paused itself" in page  # escaped
    assert "12 of the last 20 recipients failed" in page
    assert reverse("alert_acknowledge", args=[alert.pk]) in page

    response = owner_client.post(reverse("alert_acknowledge", args=[alert.pk]), follow=True)

    assert response.redirect_chain[-1][0] == reverse("dashboard")
    assert "Acknowledged: campaign" in response.content.decode()
    assert "12 of the last 20 recipients failed" not in response.content.decode()
    alert.refresh_from_db()
    assert alert.acknowledged_by == owner
    assert alert.acknowledged_at is not None
    assert alert.cleared_at is not None  # an event: the next pause alerts again


def test_acknowledging_twice_says_so_and_changes_nothing(owner_client, alert, teammate):
    services.acknowledge(alert.pk, teammate)
    response = owner_client.post(reverse("alert_acknowledge", args=[alert.pk]), follow=True)
    assert "was already acknowledged" in response.content.decode()
    alert.refresh_from_db()
    assert alert.acknowledged_by == teammate


def test_an_outsider_cannot_acknowledge_and_an_anonymous_visitor_must_log_in(
    client, outsider, alert
):
    url = reverse("alert_acknowledge", args=[alert.pk])
    anonymous = client.post(url)
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    client.force_login(outsider)
    assert client.post(url).status_code == 403
    alert.refresh_from_db()
    assert alert.acknowledged_at is None


def test_acknowledging_needs_a_post_with_a_csrf_token(owner, alert):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    url = reverse("alert_acknowledge", args=[alert.pk])
    assert client.get(url).status_code == 405
    assert client.post(url).status_code == 403
    alert.refresh_from_db()
    assert alert.acknowledged_at is None


def test_an_unknown_alert_is_a_clear_message(owner_client):
    response = owner_client.post(reverse("alert_acknowledge", args=[999]), follow=True)
    assert "alert 999 does not exist" in response.content.decode()


def test_the_settings_page_chooses_the_notification_sender(owner_client, owner):
    sender = Sender.objects.create(name="ops-relay", host="smtp.example.org")
    page = owner_client.get(reverse("settings")).content.decode()
    assert "Alert emails" in page and "ops-relay" in page and "owner@example.org" in page

    response = owner_client.post(
        reverse("notification_sender"), {"sender": str(sender.pk)}, follow=True
    )
    assert "Alert emails now go through “ops-relay”" in response.content.decode()
    row = NotificationSettings.load()
    assert row.sender == sender and row.updated_by == owner

    owner_client.post(reverse("notification_sender"), {"sender": ""})
    assert NotificationSettings.load().sender is None


def test_a_bad_notification_sender_is_refused_and_changes_nothing(owner_client):
    sender = Sender.objects.create(name="ops-relay", host="smtp.example.org")
    services.set_notification_sender(sender.pk)
    for bad in ("999", "abc"):
        response = owner_client.post(reverse("notification_sender"), {"sender": bad}, follow=True)
        assert response.status_code == 200
        assert "nothing was changed" in response.content.decode() or "choose a sender" in (
            response.content.decode()
        )
        assert NotificationSettings.load().sender == sender


def test_an_outsider_cannot_change_the_notification_sender(client, outsider):
    client.force_login(outsider)
    sender = Sender.objects.create(name="ops-relay", host="smtp.example.org")
    assert client.post(reverse("notification_sender"), {"sender": sender.pk}).status_code == 403
    assert client.get(reverse("settings")).status_code == 403
    assert NotificationSettings.load().sender is None


def test_the_settings_page_says_whether_health_needs_a_token_without_showing_it(
    owner_client, settings
):
    assert "public" in owner_client.get(reverse("settings")).content.decode()
    settings.POSTROOM_HEALTH_TOKEN = "s3cret-health"
    page = owner_client.get(reverse("settings")).content.decode()
    assert "token required" in page and "s3cret-health" not in page
