"""Sign-up forms in a real browser: the pasted snippet on another website (a cross-origin
fetch with its CORS preflight, the proof-of-work captcha solved in the page), Postroom's own
form with a captcha, and the list page that hands out the snippet."""

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import expect

from postroom.api.cors import PublicCorsMiddleware
from postroom.audience import services as audience
from postroom.audience.models import Subscriber, Subscription
from postroom.tracking import signups
from postroom.tracking.models import SignupRequest
from postroom.tracking.snippet import signup_snippet
from tests.browser.conftest import DESKTOP, PHONE


class OtherSite:
    """Another website (its own origin) whose one page holds whatever HTML it is given."""

    def __init__(self) -> None:
        self.html = ""
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = site.html.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def page(self, body: str) -> None:
        self.html = (
            "<!doctype html><html><head><meta charset=utf-8>"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            "<title>Shop</title></head><body style='font-family:sans-serif;margin:2rem'>"
            f"<h1>The shop's newsletter</h1>{body}</body></html>"
        )


@pytest.fixture
def other_site() -> Iterator[OtherSite]:
    site = OtherSite()
    yield site
    site.server.shutdown()
    site.server.server_close()


@pytest.fixture
def base_url(settings, live_server):
    settings.POSTROOM_BASE_URL = live_server.url
    return live_server.url


def wait_for_request(timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not SignupRequest.objects.exists():
        assert time.monotonic() < deadline, "no sign-up arrived"
        time.sleep(0.05)


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_snippet_signs_up_from_another_website_with_a_preflight(
    make_page, other_site, base_url, size, monkeypatch
):
    shop = audience.create_list(
        "Shop news", optin="double", public=True, allowed_origins=[other_site.origin],
        form_fields=[{"name": "plan", "label": "Plan", "type": "choice", "required": True,
                      "choices": ["free", "pro"]}],
    )  # fmt: skip
    other_site.page(signup_snippet(shop))
    page = make_page(**size)
    methods: list[str] = []
    real = PublicCorsMiddleware.__call__

    def seen(self, request):  # what reached the server, preflight included
        if request.path == "/api/public/subscription":
            methods.append(request.method)
        return real(self, request)

    monkeypatch.setattr(PublicCorsMiddleware, "__call__", seen)
    page.goto(other_site.origin + "/")
    page.get_by_label("Email address").fill("zoe@example.com")
    page.get_by_label("Plan").select_option("pro")
    page.get_by_role("button", name="Subscribe").click()

    expect(page.get_by_role("status")).to_contain_text("Check your inbox")
    assert methods == ["OPTIONS", "POST"]
    wait_for_request()
    signups.process_pending()
    zoe = Subscriber.objects.get(email="zoe@example.com")
    assert zoe.attributes == {"plan": "pro"}
    assert Subscription.objects.get(subscriber=zoe).mailing_list == shop


def test_a_website_the_list_does_not_allow_cannot_sign_anyone_up(make_page, other_site, base_url):
    shop = audience.create_list("Shop news", public=True)  # no other website allowed
    other_site.page(signup_snippet(shop))
    page = make_page(**DESKTOP)
    page.goto(other_site.origin + "/")
    page.get_by_label("Email address").fill("zoe@example.com")
    page.get_by_role("button", name="Subscribe").click()
    expect(page.get_by_role("status")).to_contain_text("could not be sent")
    assert not SignupRequest.objects.exists()


def test_the_captcha_is_solved_in_the_page_of_another_website(make_page, other_site, base_url):
    shop = audience.create_list(
        "Shop news", public=True, allowed_origins=[other_site.origin], captcha=True
    )
    other_site.page(signup_snippet(shop))
    page = make_page(**PHONE, mobile=True)
    page.goto(other_site.origin + "/")
    page.get_by_label("Email address").fill("ann@example.com")
    page.get_by_role("button", name="Subscribe").click()
    expect(page.get_by_role("status")).to_contain_text("Thank you for subscribing", timeout=30_000)
    wait_for_request()
    assert SignupRequest.objects.get().email == "ann@example.com"


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_postroom_s_own_form_solves_its_captcha_and_posts(make_page, base_url, size):
    shop = audience.create_list("Shop news", optin="double", public=True, captcha=True)
    page = make_page(**size)
    page.goto(f"/subscribe/{shop.pk}/")
    expect(page.get_by_text("A small puzzle runs in your browser")).to_be_visible()
    page.get_by_label("Email").fill("ann@example.com")
    page.get_by_role("button", name="Subscribe").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible(timeout=30_000)
    assert SignupRequest.objects.get().email == "ann@example.com"


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_list_page_hands_out_the_uuid_and_the_snippet(make_page, owner, base_url, size):
    shop = audience.create_list(
        "Shop news", public=True, allowed_origins=["https://shop.example"], captcha=True
    )
    page = make_page(**size, user=owner, mobile=size is PHONE)
    page.goto(f"/lists/{shop.pk}/")
    section = page.get_by_role("region", name="Sign-up form")
    expect(section.get_by_text(str(shop.uuid), exact=True)).to_be_visible()
    expect(section.get_by_text("Pages on https://shop.example may post")).to_be_visible()
    snippet = page.get_by_label("Paste this HTML into your website:")
    expect(snippet).to_have_value(signup_snippet(shop))
    page.get_by_label("Websites allowed to post sign-ups").fill(
        "https://shop.example\nhttps://blog.example"
    )
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("List saved.")).to_be_visible()
    expect(section.get_by_text("https://shop.example, https://blog.example")).to_be_visible()
