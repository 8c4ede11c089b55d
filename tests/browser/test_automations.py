"""The Automations pages in a real browser at 375 and 1280 px: a welcome series is created,
given steps, activated; the step list, the live-sequence warning, who is where, a step edit."""

import pytest
from playwright.sync_api import expect

from postroom.automations import services
from postroom.automations.models import Automation
from postroom.webhooks import services as webhooks
from postroom.webhooks.models import WebhookDelivery
from tests.automations.helpers import join
from tests.automations.test_engine import run_engine
from tests.browser.conftest import ARTIFACTS
from tests.delivery.helpers import make_audience

PHONE_375 = {"width": 375, "height": 812}
DESKTOP_1280 = {"width": 1280, "height": 800}


@pytest.mark.parametrize("size", [DESKTOP_1280, PHONE_375], ids=["1280", "375"])
def test_an_operator_builds_a_welcome_series_and_watches_people_move(make_page, owner, size):
    news = make_audience(1)
    page = make_page(**size, user=owner, mobile=size is PHONE_375)
    page.goto("/")
    menu = page.get_by_role("button", name="Menu")
    if menu.is_visible():
        menu.click()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Automations").click()
    expect(page.get_by_role("heading", name="Automations")).to_be_visible()
    page.get_by_role("link", name="New sequence").first.click()

    page.get_by_label("Name:", exact=True).fill("Welcome series")
    page.get_by_label("Who enters").select_option("joined")
    page.get_by_label("List:", exact=True).select_option("news")
    page.get_by_label("From address").fill("hello@example.org")
    page.get_by_role("button", name="Create sequence").click()
    expect(page.get_by_role("heading", name="Welcome series")).to_be_visible()
    expect(page.get_by_text("Only people who trigger after activation enter.")).to_be_visible()

    page.get_by_label("Subject").fill("Welcome, {{ subscriber.name }}")
    page.get_by_label("Body").fill("Glad you are here.")
    page.get_by_role("button", name="Add step").click()
    page.get_by_label("Wait first").fill("3d")
    page.get_by_label("Then until").fill("09:00")
    page.get_by_label("On:", exact=True).fill("mon,tue,wed,thu,fri")
    page.get_by_label("Subject").fill("Three days in")
    page.get_by_label("Body").fill("Here is what to try next.")
    page.get_by_role("button", name="Add step").click()
    page.get_by_label("Step:", exact=True).select_option("tag")
    page.get_by_label("Tag").fill("welcomed")
    page.get_by_role("button", name="Add step").click()
    steps = page.locator("#step-list li")
    expect(steps).to_have_count(3)
    expect(steps.nth(1)).to_contain_text(
        "2. wait 3d, then until Mon/Tue/Wed/Thu/Fri 09:00 local time; send “Three days in”"
    )

    page.get_by_role("button", name="Activate").click()
    expect(page.locator("#live-warning")).to_contain_text("People already in it keep their place")
    join(news, 3)
    run_engine()
    page.reload()
    expect(page.get_by_role("row", name="joiner0@example.net")).to_contain_text("in it")
    expect(steps.nth(1)).to_contain_text("3 waiting for it")
    expect(page.get_by_role("link", name="Export CSV")).to_be_visible()

    steps.nth(1).get_by_role("link").click()
    expect(page.locator("#live-warning")).to_be_visible()
    expect(page.get_by_text("3 people are waiting to take this step.")).to_be_visible()
    page.get_by_label("Subject").fill("Three days with us")
    page.get_by_role("button", name="Save step").click()
    expect(page.locator("#step-list li").nth(1)).to_contain_text("Three days with us")
    page.get_by_role("button", name="Pause").click()
    expect(page.get_by_role("button", name="Resume")).to_be_visible()
    assert Automation.objects.get().status == "paused"
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= size["width"], f"the page scrolls sideways: {width}px"


@pytest.mark.parametrize("size", [DESKTOP_1280, PHONE_375], ids=["1280", "375"])
def test_an_operator_adds_windowed_and_webhook_steps_then_moves_and_deletes_steps(
    make_page, owner, size
):
    news = make_audience(0)
    webhooks.create_endpoint("crm", "https://crm.example/in", ["subscriber.created"])
    automation = services.create(
        name="Onboarding", trigger="joined:news", from_email="hello@example.org"
    )
    services.add_step(automation, "tag", tag="joined")
    page = make_page(**size, user=owner, mobile=size is PHONE_375)
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"/automations/{automation.pk}/")

    page.get_by_label("Subject").fill("Welcome")
    page.get_by_label("Body").fill("Glad you are here.")
    window = page.locator("[data-send-window]")
    window.get_by_label("From").fill("09:00")
    window.get_by_label("Until").fill("17:00")
    window.get_by_label("Sat").uncheck()
    window.get_by_label("Sun").uncheck()
    expect(page.locator("#step-window-help")).to_contain_text("Send steps only")
    page.get_by_role("button", name="Add step").click()
    steps = page.locator("#step-list li")
    expect(steps.nth(1)).to_contain_text(
        "2. send “Welcome” within 09:00-17:00, mon-fri in each reader's time zone"
    )
    page.get_by_label("Step:", exact=True).select_option("webhook")
    page.get_by_label("Webhook endpoint").select_option("crm")
    page.get_by_role("button", name="Add step").click()
    expect(steps.nth(2)).to_contain_text("3. call the webhook “crm”")
    page.screenshot(path=str(ARTIFACTS / f"automation-steps-{size['width']}.png"), full_page=True)

    page.get_by_role("button", name="Activate").click()
    join(news, 2)
    run_engine()
    assert WebhookDelivery.objects.filter(event="automation.step").count() == 2

    steps.nth(1).get_by_role("link").click()
    expect(page.locator("#change-warning")).to_contain_text("Moving a step keeps every person")
    page.screenshot(
        path=str(ARTIFACTS / f"automation-step-edit-{size['width']}.png"), full_page=True
    )
    page.get_by_label("Move to step").fill("3")
    page.get_by_role("button", name="Move", exact=True).click()
    expect(steps.nth(2)).to_contain_text("3. send “Welcome”")
    expect(steps.nth(1)).to_contain_text("2. call the webhook “crm”")

    steps.nth(0).get_by_role("link").click()
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_text("Step 1 deleted.")).to_be_visible()
    expect(steps).to_have_count(2)
    expect(steps.nth(0)).to_contain_text("1. call the webhook “crm”")
    assert list(automation.steps.values_list("kind", flat=True)) == ["webhook", "send"]
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= size["width"], f"the page scrolls sideways: {width}px"
