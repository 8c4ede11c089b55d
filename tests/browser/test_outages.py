"""A campaign waiting for a sender that cannot be reached, and its auto-pause threshold."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from postroom.delivery import control, ledger
from postroom.delivery.models import Sender
from tests.delivery.helpers import make_audience, make_campaign


@pytest.fixture
def waiting_campaign(transactional_db):
    """A running campaign whose sender went away three minutes ago; a worker is alive."""
    sender = Sender.objects.create(name="relay", host="smtp.example.org", port=587)
    campaign = make_campaign(make_audience(40), sender=sender, name="Spring news")
    control.start(campaign)
    now = timezone.now()
    Sender.objects.filter(pk=sender.pk).update(
        failing_since=now - timedelta(minutes=3),
        consecutive_failures=6,
        backoff_until=now + timedelta(seconds=25),
        last_error="connection refused by smtp.example.org:587",
    )
    ledger.heartbeat("web-test:1:alive")
    return campaign


@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_the_campaign_page_and_the_dashboard_show_the_wait(
    make_page, owner, waiting_campaign, width
):
    size = {"desktop": (1280, 800), "phone": (390, 844)}[width]
    page = make_page(*size, user=owner, mobile=width == "phone")
    page.goto(f"/campaigns/{waiting_campaign.pk}/")
    banner = page.locator("#delivery-panel [data-waiting]")
    expect(banner).to_contain_text("waiting for sender 'relay' since")
    expect(banner).to_contain_text("(3 min ago), next try in")
    expect(banner).to_contain_text("connection refused by smtp.example.org:587")
    expect(page.locator("h1 .badge.waiting")).to_have_text("Waiting for sender")  # not paused
    expect(page.get_by_text("Stalled")).to_have_count(0)
    expect(page.locator("[data-threshold]")).to_contain_text(
        "more than 20% of the last 200 recipients (once 20 have an outcome)"
    )

    dashboard = make_page(*size, user=owner, mobile=width == "phone")
    dashboard.goto("/")
    line = dashboard.locator("#dashboard-live [data-waiting]")
    expect(line).to_contain_text("Spring news is waiting for sender 'relay' since")
    expect(line).to_contain_text("it carries on by itself")
    expect(dashboard.locator("#dashboard-live .badge", has_text="waiting")).to_be_visible()

    senders = make_page(*size, user=owner, mobile=width == "phone")
    senders.goto("/senders/")
    expect(senders.locator("[data-waiting]")).to_contain_text("next try in")


@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_the_threshold_is_shown_and_changed_on_a_running_campaign(
    make_page, owner, waiting_campaign, width
):
    size = {"desktop": (1280, 800), "phone": (390, 844)}[width]
    page = make_page(*size, user=owner, mobile=width == "phone")
    page.goto(f"/campaigns/{waiting_campaign.pk}/")
    page.locator("[data-threshold]").get_by_role("link", name="change").click()
    expect(page.get_by_role("heading", name="When “Spring news” pauses itself")).to_be_visible()
    percent = page.get_by_label("Pause when more than (%)")
    percent.fill("0")
    page.get_by_role("button", name="Save").click()
    # The browser refuses it before sending (the form's min); the server's refusal of
    # the same value is tested in tests/delivery/test_outages.py.
    assert percent.evaluate("field => !field.validity.valid")
    expect(page.get_by_role("heading", name="When “Spring news” pauses itself")).to_be_visible()
    waiting_campaign.refresh_from_db()
    assert waiting_campaign.error_threshold_percent == 20

    page.get_by_label("Pause when more than (%)").fill("35")
    page.get_by_label("…of the last (recipients)").fill("500")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("[data-threshold]")).to_contain_text(
        "more than 35% of the last 500 recipients"
    )
    waiting_campaign.refresh_from_db()
    assert (waiting_campaign.error_threshold_percent, waiting_campaign.error_window) == (35, 500)
    assert waiting_campaign.status == "running"

    form = make_page(*size, user=owner, mobile=width == "phone")  # its own screenshot
    form.goto(f"/campaigns/{waiting_campaign.pk}/error-threshold/")
    expect(form.get_by_label("Pause when more than (%)")).to_have_value("35")
    expect(form.locator(".subtitle")).to_contain_text("counted across every worker")
