"""/api/feeds: a feed added, changed, checked soon and deleted over the API."""

import pytest

from postroom.accounts.models import Role
from postroom.audience import services as audience
from postroom.feeds.models import Feed, FeedItem
from tests.api.conftest import refused

pytestmark = pytest.mark.django_db


@pytest.fixture
def news(db):
    return audience.create_list("news")


def test_a_feed_is_added_changed_checked_and_deleted(api, news):
    made = api.post("/api/feeds", {"name": "Blog", "url": "https://blog.example.org/feed.xml",
                                   "lists": ["news"], "minimum_items": 3})  # fmt: skip
    assert made.status_code == 201, made.content
    feed = made.json()
    assert (feed["lists"], feed["minimum_items"], feed["items_seen"]) == (["news"], 3, 0)
    FeedItem.objects.create(feed_id=feed["id"], guid="a", title="A")
    changed = api.patch(f"/api/feeds/{feed['id']}", {"interval_minutes": 15, "active": False})
    assert changed.status_code == 200, changed.content
    assert changed.json()["interval_minutes"] == 15 and changed.json()["active"] is False
    assert changed.json()["items_waiting"] == 1
    Feed.objects.filter(pk=feed["id"]).update(last_error="HTTP Error 500")
    listed = api.get("/api/feeds").json()
    assert [f["last_error"] for f in listed] == ["HTTP Error 500"]
    assert api.post(f"/api/feeds/{feed['id']}/check").json()["last_checked"] is None
    assert api.delete(f"/api/feeds/{feed['id']}").status_code == 204
    assert not Feed.objects.exists()


def test_bad_input_is_refused_with_one_line_and_nothing_saved(api, news):
    body = {"name": "Blog", "url": "https://blog.example.org/feed.xml", "lists": ["news"]}
    assert "http:// or https://" in refused(api.post("/api/feeds", {**body, "url": "ftp://x"}), 400)
    assert "valid template" in refused(api.post("/api/feeds", {**body, "template": "{% if"}), 400)
    assert "list or a segment" in refused(api.post("/api/feeds", {**body, "lists": []}), 400)
    assert "does not exist" in refused(api.post("/api/feeds", {**body, "lists": ["nope"]}), 404)
    assert not Feed.objects.exists()
    made = api.post("/api/feeds", body).json()
    assert "already exists" in refused(api.post("/api/feeds", body), 400)
    refused(api.patch(f"/api/feeds/{made['id']}", {"minimum_items": 0}), 422)
    assert "valid template" in refused(
        api.patch(f"/api/feeds/{made['id']}", {"subject": "{{ x"}), 400
    )
    assert Feed.objects.get().subject == "{{ feed }}: {{ items|length }} new"
    refused(api.get("/api/feeds/987654"), 404)


def test_a_viewer_reads_feeds_and_a_token_for_some_lists_none(token_for, api, news):
    api.post("/api/feeds", {"name": "Blog", "url": "https://b.example/f", "lists": ["news"]})
    viewer = token_for(Role.VIEWER)
    assert len(viewer.get("/api/feeds").json()) == 1
    refused(viewer.post("/api/feeds", {"name": "X", "url": "https://b.example/x"}), 403)
    narrowed = token_for(Role.EDITOR, lists=[news])
    assert "limited to some lists" in refused(narrowed.get("/api/feeds"), 403)
