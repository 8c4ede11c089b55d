"""No page a person reads prints a raw ISO timestamp or microseconds: every time goes
through the `moment` filter, in the reader's time zone."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.template import Context, Template
from django.test import Client
from django.utils import timezone

from postroom.alerts.services import notify
from tests.web.pages import NOT_PAGES, PUBLIC, page_urls, routes, world

pytestmark = pytest.mark.django_db(transaction=True)

# 2026-12-04T06:22:26 (a T between date and time) or 06:22:26.928221 (microseconds).
RAW_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d|\d\d:\d\d:\d\d\.\d{3,6}")
TAG = re.compile(r"<script\b.*?</script>|<style\b.*?</style>|<[^>]*>", re.S)


def visible_text(html: str) -> str:
    """What a reader sees: no tags, so `<time datetime="…">` may keep its exact instant."""
    return TAG.sub(" ", html)


def render(source: str, **context) -> str:
    return Template("{% load postroom_ui %}" + source).render(Context(context))


def test_every_page_is_walked(owner_client):

    urls = page_urls(world())
    missing = [name for name, _ in routes() if name not in NOT_PAGES and name not in urls]
    assert missing == [], f"give these pages a sample in tests/web/pages.py: {missing}"


def test_no_page_a_person_reads_prints_a_raw_iso_time(owner_client):
    urls = page_urls(world())
    anonymous = Client()
    seen = 0
    for name, paths in urls.items():
        for path in paths:
            client = anonymous if name in PUBLIC else owner_client
            response = client.get(path)
            if response.status_code == 405:  # an action (POST only), not a page
                continue
            assert response.status_code in (200, 302), f"{path}: HTTP {response.status_code}"
            if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
                continue
            text = visible_text(response.content.decode())
            found = RAW_TIME.findall(text)
            assert not found, f"{path} shows raw times: {found[:3]}"
            seen += 1
    assert seen >= 40  # the walk really read the pages, not only redirects


def test_times_are_shown_in_the_readers_time_zone(owner_client, settings):
    settings.TIME_ZONE = "UTC"
    owner_client.cookies["tz"] = "Asia/Tokyo"
    at = timezone.now() - timedelta(minutes=3)
    html = render("{{ at|moment }}", at=at)  # outside a request: the installation's zone
    assert f"{at.astimezone(UTC):%H:%M}, 3 min ago" in html
    from zoneinfo import ZoneInfo

    with timezone.override(ZoneInfo("Asia/Tokyo")):
        tokyo = render("{{ at|moment }}", at=at)
    assert f"{at.astimezone(ZoneInfo('Asia/Tokyo')):%H:%M}, 3 min ago" in tokyo
    notify("worker_died", "worker_died", "a worker stopped")
    page = owner_client.get("/").content.decode()  # the middleware reads the cookie
    assert " JST" in page  # the alert's time, in the reader's zone


def test_a_future_time_reads_as_how_long_until_it():
    soon = timezone.now() + timedelta(minutes=12, seconds=30)
    assert "in 12 min (" in render("{{ at|moment }}", at=soon)
    later = timezone.now() + timedelta(hours=2, minutes=5, seconds=30)
    assert "in 2 h 5 min (" in render("{{ at|moment }}", at=later)


def test_an_iso_text_from_a_json_summary_reads_like_a_datetime():
    at = datetime.now(UTC) + timedelta(seconds=40, microseconds=928221)
    html = render("{{ at|moment }}", at=at.isoformat())
    assert "in 40 s (" in html and ".928221" not in visible_text(html)
    assert 'datetime="' in html and ".928221" not in html


def test_a_text_that_is_no_time_is_shown_as_it_is():
    assert render("{{ at|moment }}", at="soon") == "soon"
    assert render("{{ at|moment }}", at=None) == ""


def test_a_bad_time_zone_cookie_is_ignored(owner_client):
    owner_client.cookies["tz"] = "../../etc/passwd"
    assert owner_client.get("/").status_code == 200
    owner_client.cookies["tz"] = "Not/AZone"
    assert owner_client.get("/").status_code == 200
