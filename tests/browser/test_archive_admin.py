"""The admin's side of the archive and branding, in a real browser at 375 and 1280 pixels:
the Settings card, a list's own brand and archive address, a sent campaign put into the
archive from its page."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from postroom.audience import services as audience
from postroom.campaigns import services
from postroom.campaigns.models import Campaign
from postroom.public import archive
from postroom.public.models import Branding
from tests.browser.conftest import ARTIFACTS

SIZES = {"phone": {"width": 375, "height": 812, "mobile": True}, "desktop": {"width": 1280}}


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.fixture
def gazette(settings, live_server):
    settings.POSTROOM_BASE_URL = live_server.url
    gazette = audience.create_list("Riverside Gazette", public=True)
    campaign = services.create_campaign(
        name="Autumn", subject="Autumn news", body="# Autumn\n\nLeaves.",
        from_email="news@example.org", lists=[gazette],
    )  # fmt: skip
    at = timezone.now() - timedelta(days=1)
    Campaign.objects.filter(pk=campaign.pk).update(status="finished", started_at=at, finished_at=at)
    return {"list": gazette, "campaign": campaign}


@pytest.mark.parametrize("size", SIZES, ids=list(SIZES))
def test_an_owner_brands_the_public_pages_on_settings(make_page, owner, gazette, size):
    page = make_page(**SIZES[size], user=owner)
    page.goto("/settings/")
    card = page.locator("section", has=page.get_by_role("heading", name="Public pages"))
    card.get_by_label("Name").fill("Riverside Residents")
    card.get_by_label("Colour").fill("teal")
    card.get_by_role("button", name="Save branding").click()

    expect(page.get_by_text("not a colour: write it as #rrggbb")).to_be_visible()
    assert not Branding.objects.exists()
    assert fits_the_screen(page)
    shot(page, f"settings-branding-refused-{size}")

    card = page.locator("section", has=page.get_by_role("heading", name="Public pages"))
    card.get_by_label("Colour").fill("#0F766E")
    card.get_by_role("button", name="Save branding").click()
    expect(page.get_by_text("The public pages' branding was saved.")).to_be_visible()
    assert Branding.objects.get(mailing_list=None).colour == "#0f766e"


@pytest.mark.parametrize("size", SIZES, ids=list(SIZES))
def test_a_list_page_gives_its_archive_and_its_own_brand(make_page, owner, gazette, size):
    page = make_page(**SIZES[size], user=owner)
    mailing_list = gazette["list"]
    page.goto(f"/lists/{mailing_list.pk}/")
    expect(page.get_by_role("link", name=archive.archive_url(mailing_list))).to_be_visible()
    card = page.locator(
        "section", has=page.get_by_role("heading", name="Public pages of this list")
    )
    card.get_by_label("Colour").fill("#ffcc00")
    card.get_by_role("button", name="Save branding").click()
    expect(page.get_by_text("This list's branding was saved.")).to_be_visible()
    assert fits_the_screen(page)
    shot(page, f"list-branding-{size}")
    page.goto(f"/subscribe/{mailing_list.pk}/")
    expect(page.get_by_role("button", name="Subscribe")).to_have_css(
        "color",
        "rgb(0, 0, 0)",  # black reads on yellow
    )


@pytest.mark.parametrize("size", SIZES, ids=list(SIZES))
def test_a_sent_campaign_goes_into_the_archive_from_its_page(make_page, owner, gazette, size):
    page = make_page(**SIZES[size], user=owner)
    campaign = gazette["campaign"]
    page.goto(f"/campaigns/{campaign.pk}/")
    facts = page.locator("[data-archive]")
    expect(facts).to_contain_text("not shown")
    facts.get_by_role("button", name="Show in the archive").click()

    expect(page.get_by_text("Shown in the public archive.")).to_be_visible()
    expect(facts.get_by_role("link", name="Riverside Gazette")).to_be_visible()
    assert fits_the_screen(page)
    shot(page, f"campaign-in-archive-{size}")
    facts.get_by_role("link", name="Riverside Gazette").click()
    expect(page.get_by_role("link", name="Autumn news")).to_be_visible()
    facts = None
    page.go_back()
    page.locator("[data-archive]").get_by_role("button", name="Take out").click()
    expect(page.get_by_text("Taken out of the public archive.")).to_be_visible()
    assert not Campaign.objects.get(pk=campaign.pk).in_archive
