"""The test-send form in a real browser: sent at once, or told when the rate limit lets it leave."""

import pytest
from playwright.sync_api import expect

from postroom.campaigns import services
from postroom.delivery import ratelimit
from postroom.delivery.models import QueuedMessage, Sender
from postroom.testing.smtpserver import CaptureServer
from tests.browser.conftest import ARTIFACTS, DESKTOP, PHONE


@pytest.fixture
def campaign(db):
    with CaptureServer() as server:
        sender = Sender.objects.create(
            name="Slow relay", host=server.host, port=server.port, tls="none"
        )
        ratelimit.set_limits(sender, ["1/minute"])
        yield services.create_campaign(
            name="Spring", subject="Spring news", from_email="news@example.org",
            body="# Hello {{ subscriber.first_name }}", sender=sender,
        )  # fmt: skip


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"test-send-{name}.png"), full_page=True)


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_a_test_goes_out_or_says_when_it_will_leave(make_page, owner, campaign, size):
    viewport = DESKTOP if size == "desktop" else PHONE
    page = make_page(**viewport, user=owner, mobile=size == "phone")
    page.goto(f"/campaigns/{campaign.pk}/")
    card = page.locator("section.card", has=page.get_by_role("heading", name="Send a test"))
    prefix = card.get_by_label("Start the subject with “[Test] ”")
    expect(prefix).to_be_checked()
    card.get_by_label("Send a test to").fill("me@example.net")
    card.scroll_into_view_if_needed()
    shot(page, f"form-{size}")

    card.get_by_role("button", name="Send test").click()
    expect(page.get_by_text("Test sent to me@example.net.")).to_be_visible()

    # The sender's minute is used: the next test waits for its slot instead of failing.
    card = page.locator("section.card", has=page.get_by_role("heading", name="Send a test"))
    card.get_by_label("Send a test to").fill("colleague@example.net")
    card.get_by_role("button", name="Send test").click()
    notice = page.get_by_text("The test to colleague@example.net will leave at")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("(the sender's rate limit).")
    assert "in 5" in notice.inner_text() or "in 1 min" in notice.inner_text()
    queued = QueuedMessage.objects.get(rcpt_to="colleague@example.net")
    assert queued.state == QueuedMessage.State.QUEUED
    assert b"Subject: [Test] Spring news" in bytes(queued.data)
    shot(page, f"queued-{size}")
