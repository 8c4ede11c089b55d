"""The webhooks pages in a real browser: add an endpoint (its secret shown once), send a test
to a real receiver, read the delivery log; desktop and phone."""

import pytest
from playwright.sync_api import expect

from postroom.webhooks import services, signing
from postroom.webhooks.models import Endpoint
from tests.browser.conftest import DESKTOP, PHONE
from tests.webhooks.receiver import Receiver


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_an_operator_adds_an_endpoint_and_sends_a_test(make_page, owner, size, settings):
    settings.POSTROOM_WEBHOOK_TIMEOUT_SECONDS = 2
    with Receiver(["500"]) as receiver:
        page = make_page(**size, user=owner, mobile=size is PHONE)
        page.goto("/settings/")
        page.get_by_role("link", name="Manage webhooks").click()
        page.get_by_label("Name").fill("CRM")
        page.get_by_label("URL").fill(receiver.url)
        page.get_by_label("subscriber.created", exact=False).check()
        page.get_by_label("campaign.finished", exact=False).check()
        page.get_by_role("button", name="Add endpoint").click()

        secret_box = page.get_by_role("region", name="Signing secret")
        expect(secret_box).to_contain_text("shown this once")
        secret = secret_box.locator("code").inner_text()
        assert secret == Endpoint.objects.get().secret

        page.get_by_role("button", name="Send test").click()
        expect(page.get_by_text("Test failed: HTTP 500 Internal Server Error")).to_be_visible()
        page.get_by_role("button", name="Send test").click()
        expect(page.get_by_text("Test delivered: the endpoint answered 200.")).to_be_visible()
        log = page.get_by_role("region", name="Delivery log")
        expect(log.get_by_text("500: HTTP 500 Internal Server Error")).to_be_visible()
        expect(log.get_by_text("delivered")).to_be_visible()
        expect(page.get_by_role("region", name="Signing secret")).to_have_count(0)
        got = receiver.wait_for(2)[-1]

    assert signing.verify(
        secret,
        got.headers[signing.HEADER_TIMESTAMP],
        got.headers[signing.HEADER_SIGNATURE],
        got.body,
        now=got.at,
    )
    assert secret not in page.content()


def test_the_list_of_endpoints_shows_their_last_delivery(make_page, owner):
    with Receiver() as receiver:
        endpoint, _ = services.create_endpoint("CRM", receiver.url, ["subscriber.created"])
        services.send_test(endpoint)
    services.create_endpoint("Analytics", "https://hooks.example/in", ["import.finished"])
    page = make_page(**DESKTOP, user=owner)
    page.goto("/settings/webhooks/")
    expect(page.get_by_role("row", name="CRM")).to_contain_text("webhook.test: delivered (200)")
    expect(page.get_by_role("row", name="Analytics")).to_contain_text("nothing yet")
