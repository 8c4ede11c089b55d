"""Alerts on the dashboard in a real browser: shown with their reason, acknowledged by a click."""

from datetime import timedelta

from django.utils import timezone
from playwright.sync_api import expect

from postroom.alerts import services
from postroom.alerts.models import Alert
from postroom.delivery import control
from tests.browser.test_shell import overflows_horizontally
from tests.delivery.helpers import make_audience, make_campaign


def some_alerts() -> None:
    campaign = make_campaign(make_audience(3), name="November news")
    control.start(campaign)
    control.auto_pause(
        campaign.pk, "31 of the last 200 recipients failed permanently (more than 15%)"
    )
    services.notify(
        "process_restarted",
        "process_restarted:worker",
        "the worker of postroom run stopped unexpectedly and was restarted",
        "It exited (exit -9: killed by SIGKILL); postroom run starts it again after 1 s.",
    )
    services.notify(
        "process_restarted",
        "process_restarted:worker",
        "the worker of postroom run stopped unexpectedly and was restarted",
        "It exited (exit -9: killed by SIGKILL); postroom run starts it again after 2 s.",
    )
    waiting = services.notify(
        "sender_waiting",
        "sender_waiting:1",
        "sender “mail.example.org relay” has been unreachable for 17 minutes",
        "Campaigns on it are waiting and carry on by themselves when it is back."
        " Last error: connection refused (111) connecting to mail.example.org:587",
    )
    Alert.objects.filter(pk=waiting.pk).update(created_at=timezone.now() - timedelta(minutes=3))


def test_an_operator_sees_alerts_and_acknowledges_one(logged_in_page, owner):
    some_alerts()
    page = logged_in_page
    page.goto("/")
    alerts = page.get_by_role("region", name="Alerts")
    expect(alerts).to_be_visible()
    expect(alerts.get_by_text("Campaign “November news” paused itself")).to_be_visible()
    expect(alerts.get_by_text("2 times, first at")).to_be_visible()
    expect(alerts.get_by_text("3 min ago")).to_be_visible()
    expect(alerts.get_by_text("emailed to 1 admin through the local outbox").first).to_be_visible()

    alerts.get_by_role("button", name="Acknowledge: campaign “November news” paused itself").click()

    expect(
        page.get_by_text("Acknowledged: campaign “November news” paused itself.")
    ).to_be_visible()
    expect(alerts.get_by_text("Campaign “November news” paused itself")).to_have_count(0)
    expect(alerts.get_by_text("has been unreachable for 17 minutes")).to_be_visible()
    assert Alert.objects.get(kind="campaign_paused").acknowledged_by == owner


def test_alerts_fit_a_phone(phone_page):
    some_alerts()
    page = phone_page
    page.goto("/")
    expect(page.get_by_role("region", name="Alerts")).to_be_visible()
    assert not overflows_horizontally(page)
    expect(
        page.get_by_role("button", name="Acknowledge: campaign “November news” paused itself")
    ).to_be_visible()


def test_the_settings_page_chooses_where_alert_emails_go(logged_in_page):
    from postroom.delivery.models import Sender

    Sender.objects.create(name="ops-relay", host="smtp.example.org")
    page = logged_in_page
    page.goto("/settings/")
    page.get_by_label("Send alert emails through").select_option(label="ops-relay")
    # Settings has a Save of its own per section (the language one too).
    alerts = page.get_by_role("region", name="Alert emails")
    alerts.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Alert emails now go through “ops-relay”.")).to_be_visible()
    expect(page.get_by_label("Send alert emails through")).to_have_value(
        str(Sender.objects.get().pk)
    )


def test_the_alert_email_settings_fit_a_phone(phone_page):
    page = phone_page
    page.goto("/settings/")
    expect(page.get_by_label("Send alert emails through")).to_be_visible()
    expect(page.get_by_text("Recipients: owner@example.org")).to_be_visible()
    assert not overflows_horizontally(page)
