"""A pool of senders in the browser: picked with weights in the editor, shown on the
campaign page and in each sender's capacity panel, on a desktop and on a phone."""

import pytest
from playwright.sync_api import expect

from postroom.campaigns import pools
from postroom.campaigns.models import Campaign
from postroom.delivery import control, ratelimit
from postroom.delivery.worker import DeliveryWorker
from postroom.testing.smtpserver import CaptureServer
from tests.browser.conftest import DESKTOP, PHONE
from tests.delivery.helpers import make_audience, make_campaign, smtp_sender


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_editor_picks_senders_with_weights(make_page, owner, size):
    make_audience(3, list_name="News")
    with CaptureServer() as a, CaptureServer() as b:
        relay, backup = smtp_sender(a, "relay"), smtp_sender(b, "backup")
        smtp_sender(a, "spare")
        page = make_page(**size, user=owner, mobile=size is PHONE)
        page.goto("/campaigns/new/")
        page.get_by_label("Name:", exact=True).fill("Pooled news")
        page.get_by_label("Subject:", exact=True).fill("Hello")
        page.get_by_label("From address").fill("news@example.org")
        page.get_by_label("News", exact=True).check()
        page.locator("textarea[name=body]").fill("Hello {{ subscriber.first_name }}")
        page.get_by_label("Sender:", exact=True).select_option(label="relay")
        pool = page.locator("[data-pool]")
        expect(pool).to_contain_text("Senders and weights")
        pool.get_by_label("relay").fill("2")
        pool.get_by_label("backup").fill("1")
        pool.scroll_into_view_if_needed()
        page.get_by_role("button", name="Create draft").click()

        expect(page.get_by_role("heading", name="Pooled news")).to_be_visible()
        expect(page.locator("dd[data-pool]")).to_contain_text("relay (weight 2, main)")
        expect(page.locator("dd[data-pool]")).to_contain_text("backup (weight 1)")
        campaign = Campaign.objects.get(name="Pooled news")
        assert [(s.name, w) for s, w in pools.members(campaign)] == [("relay", 2), ("backup", 1)]
        assert (relay.pk, backup.pk) == (campaign.sender_id, pools.members(campaign)[1][0].pk)

        # Editing shows the weights back, the spare one at 0 (left out).
        page.goto(f"/campaigns/{campaign.pk}/edit/")
        expect(page.locator("[data-pool]").get_by_label("relay")).to_have_value("2")
        expect(page.locator("[data-pool]").get_by_label("spare")).to_have_value("0")


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_capacity_panel_and_the_campaign_page_show_where_a_pool_s_mail_goes(
    make_page, owner, settings, size
):
    settings.POSTROOM_SENDER_BACKOFF_SECONDS = 30  # the backup stays down while we look
    with CaptureServer() as a, CaptureServer() as b:
        relay, backup = smtp_sender(a, "relay"), smtp_sender(b, "backup")
        ratelimit.set_limits(relay, ["20/second"])
        campaign = make_campaign(make_audience(200), sender=relay, name="Autumn pool")
        pools.save(campaign, [(relay, 2), (backup, 1)], new_primary=True)
        make_campaign(make_audience(50, list_name="Other"), sender=backup, name="Backup only")
        b.refuse_connections()
        control.start(campaign)
        worker = DeliveryWorker()
        for _ in range(6):  # a few batches: the backup is found down, the relay carries on
            worker.process_one_batch()
        worker.complete_flight()
        worker.close()
        sent = len(a.messages)
        assert sent > 0 and not b.messages

        page = make_page(**size, user=owner, mobile=size is PHONE)
        page.goto(f"/senders/{relay.pk}/")
        row = page.locator("[data-capacity-campaigns] tr", has_text="Autumn pool")
        expect(row).to_contain_text("pool of 2, weight 2 here: 100% of it now")
        expect(row).to_contain_text(f"{sent} sent here")
        expect(page.get_by_text("A campaign with several senders splits its mail")).to_be_visible()

        second = make_page(**size, user=owner, mobile=size is PHONE)
        second.goto(f"/senders/{backup.pk}/")
        row = second.locator("[data-capacity-campaigns] tr", has_text="Autumn pool")
        expect(row).to_contain_text("pool of 2, weight 1 here: 0% of it now")
        expect(second.get_by_text("This sender cannot be reached")).to_be_visible()

        third = make_page(**size, user=owner, mobile=size is PHONE)
        third.goto(f"/campaigns/{campaign.pk}/")
        expect(third.locator("dd[data-sent-by-sender]")).to_have_text(f"relay: {sent} · backup: 0")
        # Running, not waiting: the relay carries the campaign while the backup is down.
        expect(third.locator("#delivery-panel")).to_be_visible()
        expect(third.locator("[data-waiting]")).to_have_count(0)
