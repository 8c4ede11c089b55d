"""The subscribers table in a real browser: live search, then a confirmed bulk action."""

from playwright.sync_api import expect

from postroom.audience import services
from postroom.audience.models import Subscriber


def test_searching_then_tagging_the_selection(logged_in_page):
    services.create_list("news")
    services.add_subscriber("ann@example.com", name="Ann Lee", lists=["news"])
    services.add_subscriber("bob@example.org", name="Bob Stone", lists=["news"])
    page = logged_in_page
    page.goto("/subscribers/")
    table = page.locator("#subscribers")
    expect(table.get_by_role("link", name="bob@example.org")).to_be_visible()

    # Typing filters the table through htmx, without a submit.
    page.get_by_label("Search email or name").type("lee")
    expect(table.get_by_role("link", name="bob@example.org")).to_have_count(0)
    expect(table.get_by_role("link", name="ann@example.com")).to_be_visible()
    assert "q=lee" in page.url

    page.get_by_label("Select ann@example.com").check()
    page.get_by_label("Bulk action").select_option("tag")
    page.get_by_label("Tag name").fill("vip")
    page.get_by_role("button", name="Apply…").click()

    expect(page.get_by_role("heading", name="Add tag: 1 subscriber?")).to_be_visible()
    assert not Subscriber.objects.filter(tags__name="vip").exists()
    page.get_by_role("button", name="Yes, add tag").click()

    expect(page.get_by_text("Add tag: 1 subscriber(s) changed.")).to_be_visible()
    tagged = Subscriber.objects.filter(tags__name="vip").values_list("email", flat=True)
    assert list(tagged) == ["ann@example.com"]
    expect(page.locator("#subscribers").get_by_text("vip")).to_be_visible()
