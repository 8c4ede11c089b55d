"""The Content-Security-Policy holds on every kind of page, and the behaviours that used to
be inline handlers still work under it (confirm, check all, dialogs, auto-submit)."""

from playwright.sync_api import expect

from postroom.campaigns.models import Campaign
from tests.delivery.helpers import make_audience, make_campaign

WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
  e => window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline')));
"""

PAGES = [
    "/", "/subscribers/", "/lists/", "/imports/", "/imports/new/", "/campaigns/",
    "/campaigns/new/", "/senders/", "/senders/new/", "/outbox/", "/settings/",
    "/settings/users/", "/settings/audit/", "/settings/two-factor/", "/bounces/",
    "/settings/webhooks/",
    "/api/docs", "/login/", "/subscribe/",
]  # fmt: skip


def violations(page) -> list[str]:
    return page.evaluate("window.__csp")


def test_no_page_breaks_the_policy(make_page, owner):
    campaign = make_campaign(make_audience(3), name="November news")
    page = make_page(user=owner)
    page.add_init_script(WATCH)
    for path in [*PAGES, f"/campaigns/{campaign.pk}/"]:
        response = page.goto(path)
        assert "script-src 'self'" in response.headers["content-security-policy"], path
        page.wait_for_load_state("networkidle")
        assert violations(page) == [], path
    page.goto("/api/docs")
    expect(page.get_by_text("Postroom API").first).to_be_visible()


def test_a_confirm_asks_and_a_refusal_keeps_the_campaign(make_page, owner):
    campaign = make_campaign(make_audience(3), name="November news")
    page = make_page(user=owner)
    page.add_init_script(WATCH)
    page.goto(f"/campaigns/{campaign.pk}/")
    questions = []

    def answer(dialog):
        questions.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", answer)
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("heading", name="November news")).to_be_visible()
    assert questions == ["Delete this campaign?"]
    assert Campaign.objects.filter(pk=campaign.pk).exists()
    page.get_by_role("button", name="Schedule").first.click()
    expect(page.locator("#schedule-dialog")).to_be_visible()
    assert violations(page) == []


def test_check_all_ticks_every_subscriber(make_page, owner):
    make_audience(3)
    page = make_page(user=owner)
    page.add_init_script(WATCH)
    page.goto("/subscribers/")
    page.locator("[data-check-all]").check()
    boxes = page.locator("#subscribers input[name=ids]")
    assert boxes.count() == 3
    assert all(boxes.nth(i).is_checked() for i in range(3))
    assert violations(page) == []
