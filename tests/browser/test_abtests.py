"""An A/B test in the browser: made from a draft, set up, a variant edited, started,
decided by hand, and its results with the winner marked, on a phone and a desktop."""

import pytest
from playwright.sync_api import expect

from postroom.abtests import services
from postroom.abtests.models import ABTest
from postroom.campaigns.models import Campaign
from postroom.delivery.models import Delivery
from postroom.tracking.models import EngagementEvent
from tests.browser.conftest import ARTIFACTS
from tests.delivery.helpers import make_audience, make_campaign, run_until_settled

SIZES = [{"width": 375, "height": 812}, {"width": 1280, "height": 800}]


@pytest.mark.parametrize("size", SIZES, ids=["375", "1280"])
def test_an_ab_test_is_set_up_started_and_decided_by_hand(make_page, owner, size):
    campaign = make_campaign(make_audience(20), name="Spring news", subject="Spring is here")
    page = make_page(**size, user=owner, mobile=size["width"] < 400)
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"/campaigns/{campaign.pk}/")
    page.get_by_role("button", name="Make it an A/B test").click()
    expect(page.get_by_role("heading", name="A/B test: Spring news")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / f"abtest-draft-{size['width']}.png"), full_page=True)

    page.get_by_label("Test group size").fill("50")
    page.get_by_label("The winner is chosen by").select_option("manual")
    page.get_by_label("Variant B: share").fill("1")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".messages")).to_contain_text("A/B test saved.")
    expect(page.locator("#abtest-summary")).to_contain_text("50% of the audience")

    page.locator("#abtest-results tbody tr").nth(1).get_by_role("link", name="Edit").click()
    page.get_by_label("Subject:", exact=True).fill("Spring, at last")
    page.get_by_role("button", name="Save").first.click()
    page.goto(f"/campaigns/{campaign.pk}/abtest/")
    expect(page.locator("#abtest-results")).to_contain_text("Spring, at last")

    page.get_by_role("button", name="Start the test").click()
    expect(page.locator(".messages")).to_contain_text("Test started.")
    test = ABTest.objects.get(campaign=campaign)
    for variant in services.variants(test):
        run_until_settled(variant.campaign)  # to the local outbox
    b = services.variants(test)[1].campaign
    for row in Delivery.objects.filter(campaign=b)[:3]:
        EngagementEvent.objects.create(campaign=b, subscriber_id=row.subscriber_id, kind="open")
    page.reload()
    results = page.locator("#abtest-results")
    expect(results).to_contain_text("Human opens")
    expect(results.locator("tbody tr").nth(1)).to_contain_text("3 (60%)")

    results.locator("tbody tr").nth(1).get_by_role("button", name="Pick as winner").click()
    expect(page.locator(".messages")).to_contain_text("Variant B chosen")
    expect(results.locator("tbody tr").nth(1)).to_contain_text("winner")
    expect(page.locator("#abtest-summary")).to_contain_text("by hand: variant B")
    shot = ARTIFACTS / f"abtest-results-{size['width']}.png"
    page.screenshot(path=str(shot), full_page=True)
    rest = Campaign.objects.get(abtest_rest__pk=test.pk)
    assert rest.subject == "Spring, at last" and rest.status == Campaign.Status.RUNNING
    page.goto(f"/campaigns/{rest.pk}/")
    expect(page.locator("#abtest-panel")).to_contain_text("The winner of an A/B test")


@pytest.mark.parametrize("size", SIZES, ids=["375", "1280"])
def test_the_results_say_how_sure_the_lead_is(make_page, owner, size):
    """A: 30 of 60 opened, B: 12 of 60 (z = 3.445, tests/abtests): 99 % confidence."""
    campaign = make_campaign(make_audience(120), name="Autumn news", subject="Autumn")
    test = services.make_test(campaign, test_percent=100)
    services.start_test(test)
    for variant, opens in zip(services.variants(test), (30, 12), strict=True):
        run_until_settled(variant.campaign)
        for row in Delivery.objects.filter(campaign=variant.campaign)[:opens]:
            EngagementEvent.objects.create(
                campaign=variant.campaign, subscriber_id=row.subscriber_id, kind="open"
            )
    page = make_page(**size, user=owner, mobile=size["width"] < 400)
    page.goto(f"/campaigns/{campaign.pk}/abtest/")
    figure = page.locator("#abtest-confidence")
    expect(figure).to_have_text("A leads B by 30.0 points; 99 % confidence")
    expect(figure.locator("strong")).to_be_visible()  # 95 % or more: shown as likely real
    expect(page.get_by_text("at least 10 people who opened and 10 who did not")).to_be_visible()
    shot = ARTIFACTS / f"abtest-confidence-{size['width']}.png"
    page.screenshot(path=str(shot), full_page=True)
