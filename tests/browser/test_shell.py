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


# The elements that stick out on the right, to say which one a failure is about.
WIDER_THAN_SCREEN = """() => { const w = document.documentElement.clientWidth; const out = [];
  for (const el of document.querySelectorAll('body *')) { const r = el.getBoundingClientRect();
    if (r.right > w + 1 && r.width > 0) {
      const cls = typeof el.className === 'string' && el.className ? '.' + el.className : '';
      out.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + cls
        + ' to ' + Math.round(r.right) + ' px'); } }
  return out.slice(0, 8); }"""


def overflows_horizontally(page) -> bool:
    """Wider than the screen? (A phone would zoom out, so compare with the device width.)"""
    width = page.evaluate("document.documentElement.scrollWidth")
    if width > page.viewport_size["width"]:
        print(f"{page.url} is {width} px wide:", page.evaluate(WIDER_THAN_SCREEN))
        return True
    return False


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


def test_the_layout_fits_a_phone(make_page, owner):
    page = make_page(width=375, height=812, user=owner, mobile=True)
    page.goto("/")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    assert not overflows_horizontally(page)
    nav = page.get_by_role("navigation", name="Main")
    expect(nav).to_be_hidden()  # behind the Menu button, not a row running off-screen
    menu = page.get_by_role("button", name="Menu")
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    for label in NAV:  # every link reachable, none off the side of the screen
        link = nav.get_by_role("link", name=label, exact=True)
        expect(link).to_be_visible()
        box = link.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= page.viewport_size["width"], label
    assert not overflows_horizontally(page)
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
