"""The API docs page in a real browser: Swagger UI from Postroom's own static files."""

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import DESKTOP, PHONE


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_api_docs_render_with_no_request_to_another_host(make_page, live_server, size):
    page = make_page(**size)
    hosts = set()
    page.on("request", lambda request: hosts.add(urlsplit(request.url).netloc))
    page.goto("/api/docs")
    expect(page.get_by_role("heading", name="Postroom API")).to_be_visible()
    expect(page.get_by_text("/api/health").first).to_be_visible()
    assert hosts == {urlsplit(live_server.url).netloc}
