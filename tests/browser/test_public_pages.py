"""The public pages in a real browser, at 375 and 1280 pixels: a list's archive and one of
its issues, a branded sign-up form (its logo from another https host, let in by the
pages' Content-Security-Policy), and the unsubscribe page with its way back."""

import struct
import zlib
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from postroom.audience import services as audience
from postroom.audience.models import Subscription
from postroom.campaigns import services
from postroom.campaigns.models import Campaign
from postroom.public import archive, branding
from postroom.testing.https import HttpsServer
from postroom.tracking import links
from tests.browser.conftest import ARTIFACTS

SIZES = {"phone": {"width": 375, "height": 812, "mobile": True}, "desktop": {"width": 1280}}
TEAL = "#0f766e"
ISSUES = [
    ("The river in spring", 40, "The floods are over and the towpath is open again."),
    ("Summer fair: what to bring", 12, "Stalls, music, and the great duck race on Saturday."),
    ("Autumn: the new footbridge", 2, "The council voted yes. Here is what happens next."),
]
BODY = """# {title}

Hello {{{{ subscriber.first_name | default("neighbour") }}}},

{text}

We meet on the first Monday of the month at the library. [Read the minutes](https://example.org/minutes).
"""


def png_logo(size: int = 64) -> bytes:
    """A white ring on teal, as a real PNG (no image library needed)."""
    rows = []
    for y in range(size):
        row = bytearray(b"\x00")
        for x in range(size):
            d = ((x - size / 2 + 0.5) ** 2 + (y - size / 2 + 0.5) ** 2) ** 0.5
            row += bytes((255, 255, 255) if size * 0.28 < d < size * 0.42 else (15, 118, 110))
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def logo_host(tmp_path):
    with HttpsServer(tmp_path) as server:
        server.routes["/brand/logo.png"] = png_logo()
        yield server


@pytest.fixture
def gazette(settings, live_server, logo_host):
    settings.POSTROOM_BASE_URL = live_server.url  # the pages' absolute links lead here
    gazette = audience.create_list(
        "Riverside Gazette", public=True, description="News from the Riverside neighbourhood"
    )
    branding.save(
        None,
        {
            "name": "Riverside Residents' Association",
            "logo_url": logo_host.url("/brand/logo.png"),
            "colour": TEAL,
            "postal_address": "Riverside Residents' Association\n12 Mill Lane\nBristol BS1 4XX",
        },
    )
    zoe = audience.add_subscriber("zoe@example.com", name="Zoë Park", lists=[gazette])
    for title, days_ago, text in ISSUES:
        campaign = services.create_campaign(
            name=title,
            subject=title,
            body=BODY.format(title=title, text=text),
            from_email="news@example.org",
            lists=[gazette],
            in_archive=True,
            track_opens=True,
        )
        at = timezone.now() - timedelta(days=days_ago)
        Campaign.objects.filter(pk=campaign.pk).update(
            status="finished", started_at=at, finished_at=at
        )
    return {"list": gazette, "zoe": zoe, "latest": campaign}


def fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def logo_loaded(page) -> bool:
    return page.evaluate(
        "[...document.images].some(i => i.src.includes('/brand/logo.png') && i.naturalWidth > 0)"
    )


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("size", SIZES, ids=list(SIZES))
def test_the_archive_lists_past_issues_and_opens_one(make_page, gazette, size):
    page = make_page(**SIZES[size], ignore_https_errors=True)
    gazette_list = gazette["list"]
    page.goto(archive.archive_url(gazette_list))

    expect(page.get_by_role("heading", name="Riverside Gazette")).to_be_visible()
    items = page.locator(".archive-list li")
    expect(items).to_have_count(3)
    expect(items.first).to_contain_text("Autumn: the new footbridge")
    expect(items.last).to_contain_text("The river in spring")
    expect(page.get_by_role("link", name="Atom feed")).to_be_visible()
    expect(page.locator(".public-footer")).to_contain_text("12 Mill Lane")
    assert logo_loaded(page), "the logo from the other https host did not load"
    assert fits_the_screen(page)
    shot(page, f"archive-index-{size}")

    page.get_by_role("link", name="Autumn: the new footbridge").click()
    expect(page).to_have_url(archive.entry_url(gazette_list, gazette["latest"]))
    expect(page.get_by_role("heading", name="Autumn: the new footbridge")).to_be_visible()
    expect(page.get_by_text("Hello neighbour,")).to_be_visible()  # nobody's name
    expect(page.get_by_role("link", name="All issues of Riverside Gazette")).to_be_visible()
    assert "Zoë" not in page.content() and "zoe@example.com" not in page.content()
    assert fits_the_screen(page)
    shot(page, f"archive-entry-{size}")

    page.get_by_role("link", name="All issues of Riverside Gazette").click()
    expect(page.locator(".archive-list li")).to_have_count(3)


@pytest.mark.parametrize("size", SIZES, ids=list(SIZES))
def test_the_subscribe_page_wears_the_brand(make_page, gazette, size):
    page = make_page(**SIZES[size], ignore_https_errors=True)
    page.goto(f"/subscribe/{gazette['list'].pk}/")

    bar = page.locator(".brand-bar")
    expect(bar).to_contain_text("Riverside Residents' Association")
    expect(bar).to_have_css("background-color", "rgb(15, 118, 110)")
    expect(bar).to_have_css("color", "rgb(255, 255, 255)")  # white reads on teal
    button = page.get_by_role("button", name="Subscribe")
    expect(button).to_have_css("background-color", "rgb(15, 118, 110)")
    assert logo_loaded(page)
    assert fits_the_screen(page)
    page.get_by_label("Email").fill("sam@example.com")
    shot(page, f"branded-subscribe-{size}")
    button.click()
    expect(page.get_by_role("heading", name="Thank you")).to_be_visible()
    expect(page.locator(".brand-bar")).to_contain_text("Riverside Residents' Association")


@pytest.mark.parametrize("size", SIZES, ids=list(SIZES))
def test_after_unsubscribing_the_page_offers_to_subscribe_again(make_page, gazette, size):
    page = make_page(**SIZES[size], ignore_https_errors=True)
    zoe, gazette_list = gazette["zoe"], gazette["list"]
    page.goto(links.unsubscribe_url(gazette["latest"].pk, zoe.pk))
    page.get_by_role("button", name="Unsubscribe").click()

    expect(page.get_by_role("heading", name="You are unsubscribed")).to_be_visible()
    again = page.get_by_role("button", name="Subscribe again")
    expect(again).to_be_visible()
    expect(page.locator(".resubscribe")).to_contain_text("Riverside Gazette")
    assert Subscription.objects.get(subscriber=zoe).status == "unsubscribed"
    assert fits_the_screen(page)
    shot(page, f"unsubscribed-with-resubscribe-{size}")

    again.click()
    expect(page.get_by_role("heading", name="Welcome back")).to_be_visible()
    row = Subscription.objects.get(subscriber=zoe, mailing_list=gazette_list)
    assert row.status == "confirmed" and row.consent_source == "form"
