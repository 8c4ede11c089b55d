"""The Transactional pages in a real browser: the log (filters, replies, a reason, one in
doubt), one message, and a template made in the editor; desktop and phone."""

import pytest
from playwright.sync_api import expect

from postroom.audience.emails import email_hash
from postroom.audience.models import Suppression
from postroom.delivery.models import Delivery
from postroom.transactional.models import TxTemplate
from tests.browser.conftest import DESKTOP, PHONE
from tests.delivery.helpers import run_until_idle
from tests.transactional.helpers import receipt


def some_messages() -> None:
    Suppression.objects.create(email_hash=email_hash("gone@example.net"), reason="bounced")
    receipt("ada@example.net", subject="Your order A-17")
    receipt("gone@example.net", subject="Your order A-18")
    doubtful = receipt("bob@example.net", subject="Your order A-19")
    run_until_idle()
    Delivery.objects.filter(pk=doubtful.delivery_id).update(
        state="in_doubt", error="the worker stopped after the final dot"
    )
    receipt("carol@example.net", subject="Password reset")


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_an_operator_reads_the_log_filters_it_and_opens_a_message(make_page, owner, size):
    some_messages()
    page = make_page(**size, user=owner, mobile=size is PHONE)
    page.goto("/")
    menu = page.get_by_role("button", name="Menu")
    if menu.is_visible():  # on a phone the navigation sits behind it
        menu.click()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Transactional").click()

    expect(page.get_by_role("heading", name="Transactional mail")).to_be_visible()
    expect(page.get_by_text("1 queued · 1 sent · 1 failed · 1 in doubt")).to_be_visible()
    expect(page.get_by_role("row", name="ada@example.net")).to_contain_text("250 stored")
    expect(page.get_by_role("row", name="gone@example.net")).to_contain_text("the address bounced")
    expect(page.get_by_text("1 message in doubt")).to_be_visible()
    expect(page.get_by_role("link", name="Settle it")).to_have_attribute(
        "href",
        f"/campaigns/{Delivery.objects.get(email='bob@example.net').campaign_id}"
        "/deliveries/?state=in_doubt",
    )

    page.get_by_label("Status").select_option("queued")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("row", name="carol@example.net")).to_be_visible()
    expect(page.get_by_role("row", name="ada@example.net")).to_have_count(0)

    page.get_by_label("Status").select_option("")
    page.get_by_label("Recipient contains").fill("ada")
    page.get_by_role("button", name="Filter").click()
    page.get_by_role("link", name="Your order A-17").click()
    expect(page.get_by_role("heading", name="Your order A-17")).to_be_visible()
    expect(page.get_by_text("250 stored in the outbox")).to_be_visible()
    expect(page.get_by_text("ago").first).to_be_visible()  # times read as people read them

    log = make_page(**size, user=owner, mobile=size is PHONE)  # a screenshot of the whole log
    log.goto("/transactional/")
    expect(log.get_by_role("row", name="carol@example.net")).to_contain_text("queued")


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_an_operator_makes_a_template_and_sees_its_id(make_page, owner, size):
    page = make_page(**size, user=owner, mobile=size is PHONE)
    page.goto("/transactional/templates/")
    page.get_by_role("link", name="New template").click()
    page.get_by_label("Name").fill("password-reset")
    page.get_by_label("Subject").fill("Your code")
    page.get_by_label("Format").select_option("html")
    page.get_by_label("Body").fill("<p>Code: {{ data.code }</p>")
    page.get_by_role("button", name="Save template").click()
    expect(page.get_by_role("alert")).to_contain_text("body, line 1")
    assert not TxTemplate.objects.exists()

    page.get_by_label("Body").fill("<p>Code: {{ data.code }}</p>")
    page.get_by_label("From").fill("Accounts <accounts@example.org>")
    page.get_by_role("button", name="Save template").click()
    template = TxTemplate.objects.get()
    expect(page.get_by_text(f'"template_id": {template.pk}')).to_be_visible()
    page.get_by_role("link", name="All templates").click()
    expect(page.get_by_role("row", name="password-reset")).to_contain_text("accounts@example.org")
