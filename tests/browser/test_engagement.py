"""A campaign page counts people's opens and clicks, and machines' apart, in a real browser."""

from playwright.sync_api import expect

from postroom.audience.models import Subscriber
from postroom.tracking.models import EngagementEvent
from tests.browser.conftest import ARTIFACTS
from tests.delivery.helpers import make_audience, make_campaign


def engaged_campaign():
    campaign = make_campaign(make_audience(6), name="November news")
    campaign.track_opens = campaign.track_clicks = True
    campaign.status = "finished"  # the card is on a sent campaign's page
    campaign.save()
    readers = list(Subscriber.objects.order_by("id"))
    for reader in readers[:2]:
        EngagementEvent.objects.create(campaign=campaign, subscriber=reader, kind="open")
    reasons = ["apple-mpp", "apple-mpp", "apple-mpp", "scanner"]
    for reader, reason in zip(readers[2:], reasons, strict=True):
        EngagementEvent.objects.create(
            campaign=campaign, subscriber=reader, kind="open", machine=reason
        )
    EngagementEvent.objects.create(
        campaign=campaign, subscriber=readers[5], kind="click", machine="burst"
    )
    return campaign


def test_people_and_machines_are_counted_apart(logged_in_page):
    campaign = engaged_campaign()
    page = logged_in_page
    page.goto(f"/campaigns/{campaign.pk}/")

    card = page.locator("#engagement")
    expect(card.get_by_text("opened by people")).to_be_visible()
    expect(page.locator("#machine-engagement")).to_contain_text(
        "4 opens (Apple Mail Privacy Protection: 3, security scanners and bots: 1)"
    )
    expect(page.locator("#machine-engagement")).to_contain_text("1 click (every link at once: 1)")
    card.screenshot(path=ARTIFACTS / "engagement-machines-desktop.png")


def test_the_engagement_card_fits_a_phone(phone_page):
    campaign = engaged_campaign()
    phone_page.goto(f"/campaigns/{campaign.pk}/")

    expect(phone_page.locator("#machine-engagement")).to_be_visible()
    # The page as a whole is wider than a phone because of its "Mobile" preview frame (not
    # this card's doing); the card itself fits.
    box = phone_page.locator("#engagement").bounding_box()
    assert box is not None and box["x"] + box["width"] <= phone_page.viewport_size["width"]
    phone_page.locator("#engagement").screenshot(path=ARTIFACTS / "engagement-machines-phone.png")
