"""A send window in the browser: set in the editor's own fieldset, shown among the
campaign's facts, and a running campaign waiting for it says so with the next opening
(not stalled), on a desktop and on a phone."""

import pytest
from playwright.sync_api import expect

from postroom.campaigns.models import Campaign
from postroom.delivery import control
from tests.browser.conftest import DESKTOP
from tests.browser.conftest import PHONE as TALL_PHONE
from tests.delivery.helpers import make_campaign, run_until_idle
from tests.delivery.test_send_windows import MORNING, audience_in, zone_at

PHONE = {**TALL_PHONE, "width": 375}  # the narrowest phones in use


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_editor_sets_office_hours_and_the_page_shows_them(make_page, owner, size):
    audience_in({"Europe/Berlin": 2})
    page = make_page(**size, user=owner, mobile=size is PHONE)
    page.goto("/campaigns/new/")
    page.get_by_label("Name:", exact=True).fill("Office hours")
    page.get_by_label("Subject:", exact=True).fill("Hello")
    page.get_by_label("From address").fill("news@example.org")
    page.get_by_label("news", exact=True).check()
    page.locator("textarea[name=body]").fill("Hello {{ subscriber.first_name }}")
    window = page.locator("[data-send-window]")
    window.get_by_label("From").fill("09:00")
    window.get_by_label("Until").fill("17:00")
    window.get_by_label("Sat").uncheck()
    window.get_by_label("Sun").uncheck()
    window.get_by_label("Readers without a time zone").select_option("America/New_York")
    window.scroll_into_view_if_needed()
    page.get_by_role("button", name="Create draft").click()

    expect(page.get_by_role("heading", name="Office hours")).to_be_visible()
    expect(page.locator("dd[data-window]")).to_contain_text(
        "09:00-17:00, mon-fri in each reader's time zone"
    )
    expect(page.locator("dd[data-window]")).to_contain_text("America/New_York")
    campaign = Campaign.objects.get(name="Office hours")
    assert (campaign.window_days, campaign.window_timezone) == (0b11111, "America/New_York")

    # Editing shows it back; a window that ends before it starts is refused, nothing saved.
    edit = make_page(**size, user=owner, mobile=size is PHONE)
    edit.goto(f"/campaigns/{campaign.pk}/edit/")
    box = edit.locator("[data-send-window]")
    expect(box.get_by_label("From")).to_have_value("09:00")
    expect(box.get_by_label("Sat")).not_to_be_checked()
    box.get_by_label("Until").fill("08:00")
    edit.get_by_role("button", name="Save").click()
    expect(edit.get_by_role("alert")).to_contain_text("must end after it starts")
    campaign.refresh_from_db()
    assert campaign.window_end.hour == 17
    edit.locator("[data-send-window]").scroll_into_view_if_needed()


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_campaign_waiting_for_its_window_says_when_it_opens_and_is_not_stalled(
    make_page, owner, size
):
    night = zone_at(18)  # outside 00:00-12:00 now
    campaign = make_campaign(
        audience_in({night: 3}),
        name="Morning news",
        window_start=MORNING[0],
        window_end=MORNING[1],
        window_timezone=night,
    )
    control.start(campaign)
    run_until_idle()  # a worker looked, and claimed nobody

    page = make_page(**size, user=owner, mobile=size is PHONE)
    page.goto(f"/campaigns/{campaign.pk}/")
    expect(page.locator(".badge.waiting").first).to_have_text("Waiting for send window")
    notice = page.locator("[data-window-waiting]")
    expect(notice).to_contain_text("waiting for its send window (00:00-12:00")
    expect(notice).to_contain_text("the next readers' window opens in")
    expect(page.locator(".badge.stalled")).to_have_count(0)
    expect(page.locator(".message.error")).to_have_count(0)  # no "Stalled: …" notice
    listing = make_page(**size, user=owner, mobile=size is PHONE)
    listing.goto("/campaigns/")
    expect(listing.locator(".badge.waiting").first).to_have_text("Waiting for send window")
