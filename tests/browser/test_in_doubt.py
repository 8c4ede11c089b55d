"""Recipients in doubt in a real browser: from the campaign page to settling them."""

import pytest
from playwright.sync_api import expect

from postroom.delivery.models import Delivery
from postroom.testing.smtpserver import CaptureServer
from tests.browser.conftest import ARTIFACTS, DESKTOP, PHONE
from tests.delivery.helpers import finished_with_doubt

DROPPED = ["user1@example.net", "user3@example.net", "user4@example.net"]


@pytest.fixture
def campaign():
    with CaptureServer(drop_data=dict.fromkeys(DROPPED, 1)) as server:
        yield finished_with_doubt(server, count=6)


def states(campaign) -> list[str]:
    return [Delivery.objects.get(campaign=campaign, email=e).state for e in DROPPED]


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"in-doubt-{name}.png"), full_page=True)


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_rows_in_doubt_are_settled_one_by_one_or_all_after_a_confirmation(
    make_page, owner, campaign, size
):
    viewport = DESKTOP if size == "desktop" else PHONE
    page = make_page(**viewport, user=owner, mobile=size == "phone")
    page.goto(f"/campaigns/{campaign.pk}/")

    notice = page.locator("#in-doubt-notice")
    expect(notice).to_contain_text("3 recipients in doubt.")
    shot(page, f"campaign-{size}")
    notice.get_by_role("link", name="Review them: mark delivered or resend →").click()

    expect(page.get_by_role("heading", name="What “in doubt” means")).to_be_visible()
    for email in DROPPED:
        why = Delivery.objects.get(campaign=campaign, email=email).error
        expect(page.get_by_role("article", name=email)).to_contain_text(why)
    shot(page, f"list-{size}")

    page.get_by_role("button", name=f"Mark {DROPPED[0]} delivered").click()
    expect(
        page.get_by_text("1 recipient marked delivered; they will not be sent again.")
    ).to_be_visible()
    expect(page.get_by_role("article", name=DROPPED[0])).to_have_count(0)
    assert states(campaign) == ["sent", "in_doubt", "in_doubt"]

    page.get_by_role("button", name="Resend all 2…").click()
    expect(page.get_by_role("heading", name="Resend: all 2 recipients in doubt?")).to_be_visible()
    expect(page.get_by_text("the campaign runs again until they are out")).to_be_visible()
    shot(page, f"confirm-{size}")
    assert states(campaign) == ["sent", "in_doubt", "in_doubt"]

    page.get_by_role("button", name="Yes, resend 2").click()
    expect(page.get_by_text("2 recipients queued to be sent again.")).to_be_visible()
    expect(page.get_by_text("Nothing is in doubt.")).to_be_visible()
    assert states(campaign) == ["sent", "pending", "pending"]
