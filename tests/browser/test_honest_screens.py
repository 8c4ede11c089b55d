"""The honest screens in chromium, on a laptop and a phone: the campaigns list with its
figures and real states, a cancelled campaign, the dashboard, the grouped sender form,
the outbox's decoded subjects and the import form that creates a list."""

import pytest
from playwright.sync_api import expect

from postroom.campaigns.models import Campaign
from tests.browser.test_shell import overflows_horizontally
from tests.web.pages import world

SIZES = {"desktop": (1280, 800, False), "phone": (375, 812, True)}


@pytest.fixture
def screens(db):
    return world()


@pytest.mark.parametrize("size", list(SIZES))
def test_the_campaign_screens_say_what_is_true(make_page, owner, screens, size):
    width, height, mobile = SIZES[size]
    page = make_page(width=width, height=height, user=owner, mobile=mobile)
    page.goto("/campaigns/")
    table = page.locator("#campaign-table")
    expect(table.locator(".badge.stalled, .badge.waiting").first).to_be_visible()
    expect(table.get_by_text("1 of 6").first).to_be_visible()  # the cancelled one sent one
    expect(page.get_by_label("Status")).to_be_visible()
    assert not overflows_horizontally(page)

    cancelled = Campaign.objects.get(name="Cancelled news")
    page = make_page(width=width, height=height, user=owner, mobile=mobile)
    page.goto(f"/campaigns/{cancelled.pk}/")
    expect(page.locator("[data-progress-label]")).to_contain_text("Cancelled: 1 of 6 sent")
    assert not overflows_horizontally(page)

    page = make_page(width=width, height=height, user=owner, mobile=mobile)
    page.goto("/")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.locator("#dashboard-live .badge").first).to_be_visible()
    assert not overflows_horizontally(page)


@pytest.mark.parametrize("size", list(SIZES))
def test_the_sender_outbox_and_import_forms_read_well(make_page, owner, screens, size):
    width, height, mobile = SIZES[size]
    page = make_page(width=width, height=height, user=owner, mobile=mobile)
    page.goto(f"/senders/{screens['sender_id']}/")
    expect(page.locator("#capacity")).to_be_visible()
    expect(page.get_by_role("group", name="Speed and limits")).to_be_visible()
    assert not overflows_horizontally(page)

    page = make_page(width=width, height=height, user=owner, mobile=mobile)
    page.goto("/outbox/")
    expect(page.get_by_text("This week, Zoë")).to_be_visible()
    assert not overflows_horizontally(page)

    page = make_page(width=width, height=height, user=owner, mobile=mobile)
    page.goto("/imports/new/")
    expect(page.get_by_label("Or a new list")).to_be_visible()
    assert not overflows_horizontally(page)
