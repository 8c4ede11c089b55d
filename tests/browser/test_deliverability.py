"""A sender's page shows its DNS checks, with the fixes, loaded from a real local DNS server."""

import pytest
from playwright.sync_api import expect

from postroom.delivery.models import Sender
from postroom.mail import dkim
from postroom.testing.dnsserver import DnsServer
from tests.browser.conftest import ARTIFACTS
from tests.browser.test_shell import overflows_horizontally
from tests.delivery.test_deliverability import BROKEN, GOOD, zone_with_dkim


@pytest.fixture
def dns(settings, tmp_path):
    key_file = str(tmp_path / "dkim.pem")
    dkim.generate_key_file(key_file, 1024)
    with DnsServer(GOOD + BROKEN + zone_with_dkim(key_file)) as server:
        settings.POSTROOM_DNS_NAMESERVERS = [server.address]
        yield key_file


def test_the_sender_page_shows_each_check_and_what_to_fix(logged_in_page, dns):
    good = Sender.objects.create(
        name="main", host="relay.example.org", envelope_from="bounces@example.org",
        dkim_domain="example.org", dkim_selector="pr1", dkim_key_file=dns,
    )  # fmt: skip
    broken = Sender.objects.create(
        name="broken", host="relay.broken.example", envelope_from="bounces@broken.example"
    )
    page = logged_in_page

    page.goto(f"/senders/{good.pk}/")
    checks = page.locator("#deliverability-checks tbody tr")
    expect(checks).to_have_count(5)
    expect(page.locator("#deliverability-checks .badge.ok")).to_have_count(5)
    page.screenshot(path=ARTIFACTS / "deliverability-ok-desktop.png", full_page=True)

    page.goto(f"/senders/{broken.pk}/")
    expect(checks).to_have_count(5)
    expect(
        page.get_by_text('publish TXT at broken.example: "v=spf1 ip4:192.0.2.26 ~all"')
    ).to_be_visible()
    expect(page.locator("#deliverability-checks .badge.failed")).to_have_count(4)  # DKIM: warn


def test_the_checks_fit_a_phone(phone_page, dns):
    broken = Sender.objects.create(
        name="broken", host="relay.broken.example", envelope_from="bounces@broken.example"
    )
    phone_page.goto(f"/senders/{broken.pk}/")

    expect(phone_page.locator("#deliverability-checks tbody tr")).to_have_count(5)
    assert not overflows_horizontally(phone_page)
