"""The statistics pages in a real browser: the charts draw, are named for screen readers,
fit a phone, and the click map shows each link's clicks."""

import math
import random
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from postroom.campaigns.models import Campaign, TrackedLink
from postroom.delivery import control
from postroom.delivery.models import Delivery
from postroom.tracking.models import Bounce, EngagementEvent, UnsubscribeEvent
from tests.browser.conftest import ARTIFACTS, DESKTOP
from tests.delivery.helpers import make_audience, make_campaign

BODY = """# Winter news

Read [the long story](https://example.com/story), see [the shop](https://example.com/shop)
or [the events](https://example.com/events).
"""


def busy_campaign() -> Campaign:
    """Sent 60 hours ago to 120 people, with opens and clicks fading over the hours since."""
    campaign = make_campaign(make_audience(120), name="Winter news", body=BODY)
    control.start(campaign)
    start = timezone.now() - timedelta(hours=60)
    Campaign.objects.filter(pk=campaign.pk).update(started_at=start, status="finished")
    rows = list(Delivery.objects.filter(campaign=campaign).order_by("id"))
    for i, row in enumerate(rows):
        Delivery.objects.filter(pk=row.pk).update(
            state=Delivery.State.SENT, sent_at=start + timedelta(minutes=i // 2)
        )
    links = [
        TrackedLink.objects.create(campaign=campaign, number=n, url=url)
        for n, url in enumerate(
            ["https://example.com/story", "https://example.com/shop", "https://example.com/events"]
        )
    ]
    chance = random.Random(18)
    events = []
    for hour in range(60):
        for _ in range(int(30 * math.exp(-hour / 8)) + chance.randint(0, 2)):
            row = chance.choice(rows)
            at = start + timedelta(hours=hour, minutes=chance.randint(0, 59))
            events.append(
                EngagementEvent(
                    campaign=campaign, subscriber_id=row.subscriber_id, kind="open", at=at
                )
            )
            if chance.random() < 0.3:
                events.append(
                    EngagementEvent(
                        campaign=campaign, subscriber_id=row.subscriber_id, kind="click",
                        link=chance.choice(links), at=at,
                    )
                )  # fmt: skip
    EngagementEvent.objects.bulk_create(events)
    for i in range(4):
        Bounce.objects.create(
            email=f"gone{i}@example.net", kind="hard", campaign=campaign, fingerprint=f"g{i}",
            at=start + timedelta(hours=i),
        )  # fmt: skip
    UnsubscribeEvent.objects.create(campaign=campaign, method="link", at=start + timedelta(hours=3))
    campaign.refresh_from_db()
    return campaign


PHONE = {"width": 375, "height": 812}


def fits(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["375", "1280"])
def test_a_campaigns_statistics_draw_and_fit(make_page, owner, size):
    campaign = busy_campaign()
    page = make_page(**size, user=owner, mobile=size is PHONE)
    page.goto(f"/campaigns/{campaign.pk}/statistics/")
    chart = page.locator(f"#c{campaign.pk}-engagement")
    expect(chart).to_be_visible()
    assert chart.get_attribute("role") == "img"
    expect(page.locator(f"#c{campaign.pk}-engagement-title")).to_have_text(
        "Opens and clicks by people"
    )
    assert chart.locator("polyline").count() == 2  # 60+ hours: lines, one per figure
    box = chart.bounding_box()
    assert box is not None and box["width"] > 0.3 * size["width"]
    page.locator(".charts").screenshot(path=ARTIFACTS / f"statistics-charts-{size['width']}.png")
    expect(page.locator("#link-table tbody tr")).to_have_count(3)
    frame = page.frame_locator(".click-map-frame")
    expect(frame.locator("[data-clicks]").first).to_be_visible()
    page.locator(".click-map-frame").scroll_into_view_if_needed()
    page.locator("#click-map").screenshot(
        path=ARTIFACTS / f"statistics-click-map-{size['width']}.png"
    )
    page.get_by_text("The figures as a table").click()
    expect(page.locator("details[open] table tfoot")).to_contain_text("120")
    page.locator("details[open] table tbody tr").first.screenshot(
        path=ARTIFACTS / f"statistics-table-row-{size['width']}.png"
    )
    assert fits(page)


@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["375", "1280"])
def test_the_overall_statistics_draw_per_day_and_fit(make_page, owner, size):
    busy_campaign()
    page = make_page(**size, user=owner, mobile=size is PHONE)
    page.goto("/statistics/?days=7")
    chart = page.locator("#all-sent")
    expect(chart).to_be_visible()
    assert chart.locator("rect.s-sent").count() >= 1  # 8 days: bars
    expect(page.locator("#all-sent-desc")).to_contain_text("120 sent in all")
    assert fits(page)
