"""Browser tests: pytest-django's live server driven by a real headless chromium.

Playwright for Python drives Debian's chromium (`/usr/bin/chromium`, or the
path in POSTROOM_CHROMIUM); nothing is downloaded. Every test in this folder
is marked `browser`, so `pytest -m "not browser"` leaves them out.

Fixtures
    browser          one headless chromium per test module
    page             a fresh desktop page (1280x800) on the live server:
                     `page.goto("/campaigns/")` — relative URLs work
    logged_in_page   the same, logged in as `owner` (a superuser)
    phone_page       a logged-in phone-sized page (390x844, touch)
    make_page        make_page(width=..., height=..., user=None|User, mobile=False,
                     ignore_https_errors=False, bypass_csp=False) for anything else;
                     each call gives a new, separate context
    live_server      pytest-django's server; the database is transactional, so
                     rows a test creates are visible to the server

Every page a test opened is saved as a full-page screenshot in
`test-artifacts/<test name>[-N].png` when the test ends, passed or failed.

Example:

    from playwright.sync_api import expect

    def test_it_lists_campaigns(logged_in_page):
        Campaign.objects.create(name="November news", ...)
        logged_in_page.goto("/campaigns/")
        expect(logged_in_page.get_by_role("link", name="November news")).to_be_visible()

Playwright's sync API runs an asyncio loop in this thread, which would make
Django refuse ORM calls from the test body; DJANGO_ALLOW_ASYNC_UNSAFE lifts that
(the ORM is still used from one thread at a time).
"""

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = os.environ.get("POSTROOM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 10_000


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="module")
def browser() -> Iterator:
    """Per module, not per session: while Playwright runs, its event loop counts as
    running in this thread, and later tests calling asyncio.run() would fail."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"chromium not found at {CHROMIUM}: apt-get install chromium", pytrace=False)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def make_page(browser, live_server, request) -> Iterator[Callable]:
    """A factory of pages on the live server, each in its own context (cookies)."""
    contexts = []
    pages = []

    def make(
        width: int = 1280,
        height: int = 800,
        user=None,
        mobile: bool = False,
        ignore_https_errors: bool = False,
        bypass_csp: bool = False,
    ):
        context = browser.new_context(
            base_url=live_server.url,
            viewport={"width": width, "height": height},
            is_mobile=mobile,
            has_touch=mobile,
            # For a test's own HTTPS server, whose certificate is self-signed.
            ignore_https_errors=ignore_https_errors,
            # For a test that must run a script on a page whose CSP forbids all scripts.
            bypass_csp=bypass_csp,
        )
        context.set_default_timeout(TIMEOUT_MS)
        if user is not None:
            context.add_cookies([session_cookie(user, live_server.url)])
        contexts.append(context)
        page = context.new_page()
        pages.append(page)
        return page

    yield make
    ARTIFACTS.mkdir(exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name).strip("-")
    for index, page in enumerate(pages):
        suffix = f"-{index + 1}" if len(pages) > 1 else ""
        try:
            page.screenshot(path=str(ARTIFACTS / f"{name}{suffix}.png"), full_page=True)
        except Exception as exc:  # a screenshot must never hide the test's own result
            print(f"screenshot of {name}{suffix} failed: {exc}")
    for context in contexts:
        context.close()


def session_cookie(user, url: str) -> dict:
    """A logged-in session for `user`, made without going through the login form."""
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    value = client.cookies[settings.SESSION_COOKIE_NAME].value
    return {"name": settings.SESSION_COOKIE_NAME, "value": value, "url": url}


@pytest.fixture
def page(make_page):
    return make_page(**DESKTOP)


@pytest.fixture
def logged_in_page(make_page, owner):
    return make_page(**DESKTOP, user=owner)


@pytest.fixture
def phone_page(make_page, owner):
    return make_page(**PHONE, user=owner, mobile=True)
