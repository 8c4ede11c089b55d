"""The Bounces page in a browser: mailboxes and their state, filters, a report, un-suppress."""

from datetime import timedelta

from django.utils import timezone
from playwright.sync_api import expect

from postroom.audience import services as audience
from postroom.delivery.models import Delivery, Sender
from postroom.tracking import bounces, mailboxes
from postroom.tracking.models import BounceMailbox
from tests.browser.conftest import ARTIFACTS
from tests.browser.test_shell import overflows_horizontally
from tests.delivery.helpers import make_audience, make_campaign
from tests.tracking.test_bounces import sample, suppression


def some_bounces() -> None:
    news = make_audience(3)
    sender = Sender.objects.create(name="relay.example.org", host="relay.example.org")
    campaign = make_campaign(news, sender=sender, name="November news")
    ann = audience.add_subscriber("ann.lee@example.com", lists=[news])
    delivery = Delivery.objects.create(
        campaign=campaign, subscriber=ann, email=ann.email, state=Delivery.State.SENT,
        message_id=f"<{campaign.pk}.{ann.pk}.x@example.org>",
    )  # fmt: skip
    bounces.ingest_messages(
        [sample("postfix_550_user_unknown.eml", ann.email, delivery.message_id)], "ingest"
    )
    bounces.ingest_messages(
        [sample("postfix_422_mailbox_full.eml", "user0@example.net", n=2)], "mailbox:main"
    )
    bounces.ingest_messages([sample("arf_abuse_complaint.eml", "user1@example.net", n=3)], "ses")
    box = mailboxes.create_mailbox(
        name="main", host="imap.example.org", username="bounces@example.org", password="pw",
        sender=sender,
    )  # fmt: skip
    BounceMailbox.objects.filter(pk=box.pk).update(
        last_polled_at=timezone.now() - timedelta(minutes=2),
        last_success_at=timezone.now() - timedelta(minutes=7),
        last_error="imap.example.org:993: [AUTHENTICATIONFAILED] Authentication failed.",
        last_error_at=timezone.now() - timedelta(minutes=2),
        next_poll_at=timezone.now() + timedelta(seconds=58),
    )
    mailboxes.create_mailbox(
        name="all senders", protocol="pop3", tls="starttls", processed="delete",
        host="pop.example.org", username="returns", password="pw",
    )  # fmt: skip


def test_an_operator_filters_reads_a_report_and_un_suppresses(logged_in_page):
    some_bounces()
    page = logged_in_page
    page.goto("/bounces/")

    mailboxes_card = page.locator("#mailboxes")
    expect(mailboxes_card.get_by_text("failing")).to_be_visible()
    expect(mailboxes_card.get_by_text("Authentication failed.")).to_be_visible()
    expect(mailboxes_card.get_by_text("never polled")).to_be_visible()
    expect(page.locator("#bounce-table tbody tr")).to_have_count(3)
    page.screenshot(path=ARTIFACTS / "bounces-list-desktop.png", full_page=True)

    page.get_by_label("Type").select_option("hard")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#bounce-table tbody tr")).to_have_count(1)
    expect(page.get_by_text("via relay.example.org")).to_be_visible()
    page.locator("#bounce-table tbody tr td:nth-child(3) a").first.click()  # its time

    expect(page.get_by_role("heading", name="Hard of ann.lee@example.com")).to_be_visible()
    expect(page.get_by_text("Final-Recipient: rfc822; ann.lee@example.com")).to_be_visible()
    page.get_by_label("Why may it be mailed again?").fill("Their admin restored the mailbox")
    page.get_by_role("button", name="Un-suppress ann.lee@example.com").click()

    expect(page.get_by_text("ann.lee@example.com may be mailed again")).to_be_visible()
    expect(page.get_by_text("“Their admin restored the mailbox”")).to_be_visible()
    assert suppression("ann.lee@example.com") is None


def test_the_bounces_page_fits_a_phone(phone_page):
    some_bounces()
    phone_page.goto("/bounces/")

    expect(phone_page.get_by_role("heading", name="Bounces", exact=True)).to_be_visible()
    assert not overflows_horizontally(phone_page)
    phone_page.screenshot(path=ARTIFACTS / "bounces-list-phone.png", full_page=True)
    phone_page.goto("/bounces/mailboxes/new/")
    expect(phone_page.get_by_label("Password")).to_have_value("")
    assert not overflows_horizontally(phone_page)
