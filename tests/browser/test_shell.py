"""The admin shell in a real browser: logging in, navigating, on a laptop and a phone."""

import pytest
from django.urls import NoReverseMatch, reverse
from playwright.sync_api import expect

NAV = ["Dashboard", "Subscribers", "Lists", "Imports", "Campaigns", "Senders", "Outbox", "Settings"]
NAV_URLS = ["dashboard", "subscribers", "lists", "imports", "campaigns", "senders", "outbox"]


def routed(name: str) -> bool:
    try:
        reverse(name)
        return True
    except NoReverseMatch:
        return False


def overflows_horizontally(page) -> bool:
    """Wider than the screen? (A phone would zoom out, so compare with the device width.)"""
    width = page.evaluate("document.documentElement.scrollWidth")
    return width > page.viewport_size["width"]


def test_an_operator_logs_in_through_the_form(page, owner):
    page.goto("/")
    assert page.url.endswith("/login/?next=/")
    page.get_by_label("Username").fill("owner")
    page.get_by_label("Password").fill("pw-owner-1")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    assert page.evaluate("typeof htmx") == "object"  # the vendored htmx loaded


def test_a_wrong_password_is_refused_in_the_browser(page, owner):
    page.goto("/login/")
    page.get_by_label("Username").fill("owner")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "Please enter a correct username and password"
    )


def test_every_navigation_link_opens_its_page(logged_in_page):
    page = logged_in_page
    page.goto("/")
    nav = page.get_by_role("navigation", name="Main")
    shown = [label for label in NAV if nav.get_by_role("link", name=label, exact=True).count()]
    expected = ["Dashboard", "Settings"] + [
        label for label, name in zip(NAV, NAV_URLS, strict=False) if routed(name)
    ]
    assert sorted(shown) == sorted(set(expected))
    for label in shown:
        with page.expect_navigation() as navigation:
            nav.get_by_role("link", name=label, exact=True).click()
        assert navigation.value.status < 400, f"{label}: HTTP {navigation.value.status}"
        expect(nav.get_by_role("link", name=label, exact=True)).to_have_attribute(
            "aria-current", "page"
        )


def test_logging_out_returns_to_the_login_page(logged_in_page):
    page = logged_in_page
    page.goto("/settings/")
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    page.goto("/settings/")
    assert "/login/" in page.url


def test_the_layout_fits_a_phone(phone_page):
    page = phone_page
    page.goto("/")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    assert not overflows_horizontally(page)
    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="Settings", exact=True).click()
    expect(page.get_by_role("heading", name="Settings", exact=True)).to_be_visible()
    assert not overflows_horizontally(page)


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_the_building_blocks_page_renders(make_page, owner, size):
    width, height = (1280, 800) if size == "desktop" else (390, 844)
    page = make_page(width=width, height=height, user=owner, mobile=size == "phone")
    page.goto("/settings/ui/")
    expect(page.get_by_role("heading", name="UI building blocks")).to_be_visible()
    expect(page.locator(".badge.running").first).to_be_visible()
    assert not overflows_horizontally(page)
