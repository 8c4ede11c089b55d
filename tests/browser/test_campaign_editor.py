"""The campaign editor in a real browser: live preview while typing, then saving."""

from playwright.sync_api import expect

from postroom.audience import services as audience
from postroom.audience.models import MailingList
from postroom.campaigns.models import Campaign


def test_the_editor_previews_while_typing_and_saves(logged_in_page):
    news = MailingList.objects.create(name="News")
    audience.add_subscriber("ann@example.com", name="Ann Lee", lists=[news])
    page = logged_in_page
    page.goto("/campaigns/new/")

    page.get_by_label("Name:", exact=True).fill("Browser news")
    page.get_by_label("Subject:", exact=True).fill("Hello {{ subscriber.first_name }}")
    page.get_by_label("From address").fill("news@example.org")
    page.get_by_label("News", exact=True).check()
    expect(page.locator("#audience-count")).to_contain_text("1 recipient now")
    page.locator("textarea[name=body]").fill(
        "# Dear {{ subscriber.first_name }}\n\nFresh **news**."
    )

    # The sandboxed preview frames follow the text after htmx's short delay.
    desktop = page.frame_locator("iframe.preview-desktop")
    expect(desktop.get_by_role("heading", name="Dear Ada")).to_be_visible()
    expect(page.locator(".preview-subject")).to_have_text("Hello Ada")
    mobile = page.frame_locator("iframe.preview-mobile")
    expect(mobile.get_by_role("heading", name="Dear Ada")).to_be_visible()
    mobile_width = page.locator("iframe.preview-mobile").evaluate("f => f.clientWidth")
    assert 300 <= mobile_width <= 400

    # A typo shows its line instead of a preview.
    page.locator("textarea[name=body]").fill("fine\n\n{{ subscriber.frist_name }}")
    expect(
        page.get_by_text("body, line 3: unknown variable 'subscriber.frist_name'")
    ).to_be_visible()

    page.locator("textarea[name=body]").fill("# Dear {{ subscriber.first_name }}")
    page.get_by_role("button", name="Create draft").click()
    expect(page.get_by_role("heading", name="Browser news")).to_be_visible()
    assert Campaign.objects.get(name="Browser news").status == "draft"
