"""Feeds in the browser: added with the editor, checked by the side work, listed with their
last check, error and items, on a 375 px phone and a 1280 px desktop."""

import pytest
from playwright.sync_api import expect

from postroom.feeds import services
from postroom.feeds.models import Feed
from tests.browser.conftest import ARTIFACTS
from tests.delivery.helpers import make_audience
from tests.feeds.test_feeds import FeedServer

SIZES = [{"width": 375, "height": 812}, {"width": 1280, "height": 800}]


@pytest.mark.parametrize("size", SIZES, ids=["375", "1280"])
def test_a_feed_is_added_checked_and_listed(make_page, owner, size):
    make_audience(3, list_name="News")
    page = make_page(**size, user=owner, mobile=size["width"] < 400)
    with FeedServer() as blog:
        blog.items = [("p1", "First post"), ("p2", "Second post")]
        page.goto("/campaigns/")
        page.get_by_role("link", name="Feeds").click()
        expect(page.locator(".empty")).to_contain_text("No feeds yet")
        page.get_by_role("link", name="New feed").click()
        page.get_by_label("Name:", exact=True).fill("Blog")
        page.get_by_label("Feed address (RSS or Atom)").fill(blog.url)
        page.get_by_label("News", exact=True).check()
        page.get_by_label("Send once this many new items wait").fill("3")
        page.get_by_role("button", name="Add feed").click()
        expect(page.locator(".messages")).to_contain_text("Feed “Blog” added")

        feed = Feed.objects.get()
        services.check(feed)  # what a worker's side thread does when it is due
        page.reload()
        expect(page.locator("#feed-status")).to_contain_text("2, 2 waiting for the next digest")
        expect(page.locator("#feed-items")).to_contain_text("Second post")
        page.screenshot(path=str(ARTIFACTS / f"feed-edit-{size['width']}.png"), full_page=True)

    Feed.objects.filter(pk=feed.pk).update(last_error="HTTP Error 404: Not Found")
    page.goto("/feeds/")
    row = page.locator("#feed-table tbody tr").first
    expect(row).to_contain_text("Blog")
    expect(row).to_contain_text("every 60 min, from 3 items")
    expect(row).to_contain_text("HTTP Error 404")
    page.screenshot(path=str(ARTIFACTS / f"feed-list-{size['width']}.png"), full_page=True)

    page.goto(f"/feeds/{feed.pk}/")
    page.get_by_label("Digest template").fill("{% for item in items %}")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text("not a valid template")
