"""Feeds from the command line and the admin pages: add, list, check, edit, with --json."""

import json

import pytest
from django.urls import reverse

from postroom.audience.models import MailingList
from postroom.campaigns.models import Campaign
from postroom.feeds.models import Feed, FeedItem
from tests.delivery.helpers import make_audience
from tests.feeds.test_feeds import FeedServer


@pytest.mark.django_db(transaction=True)
def test_a_feed_is_added_listed_and_checked_from_the_command_line(run_cli, subprocess_env):
    make_audience(3, list_name="news")

    def cli(*args):
        done = run_cli("feed", *args, env=subprocess_env)
        assert done.returncode == 0, done.stderr
        return done.stdout

    with FeedServer() as blog:
        blog.items = [("a1", "One"), ("a2", "Two")]
        added = json.loads(cli("add", "Blog", "--url", blog.url, "--list", "news", "--every",
                               "2h", "--min-items", "2", "--json"))  # fmt: skip
        assert (added["interval_minutes"], added["minimum_items"]) == (120, 2)
        checked = json.loads(cli("check", "Blog", "--json"))
        assert checked["new_items"] == 2 and checked["campaign"] is not None
        assert checked["items_waiting"] == 0 and checked["last_error"] is None
        again = cli("check", str(added["id"]))
        assert "0 new item(s), 0 waiting" in again
    listed = json.loads(cli("list", "--json"))
    assert [(f["name"], f["items_seen"]) for f in listed] == [("Blog", 2)]
    assert Campaign.objects.get().status == Campaign.Status.RUNNING


@pytest.mark.django_db(transaction=True)
def test_bad_input_and_an_unreachable_feed_are_one_line(run_cli, subprocess_env):
    make_audience(1, list_name="news")
    for args, message in [
        (["add", "Blog", "--url", "ftp://x", "--list", "news"], "http:// or https://"),
        (["add", "Blog", "--url", "http://x", "--list", "nope"], "list 'nope' does not exist"),
        (["add", "Blog", "--url", "http://x", "--every", "often"], "not a duration"),
        (["check", "Nothing"], "feed 'Nothing' does not exist"),
    ]:
        done = run_cli("feed", *args, env=subprocess_env)
        assert done.returncode != 0 and message in done.stderr, (args, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1
    assert not Feed.objects.exists()
    run_cli("feed", "add", "Gone", "--url", "http://127.0.0.1:9/feed", "--list", "news",
            env=subprocess_env)  # fmt: skip
    done = run_cli("feed", "check", "Gone", env=subprocess_env)
    assert done.returncode == 1 and "feed Gone:" in done.stderr
    assert Feed.objects.get().last_error


@pytest.mark.django_db
def test_the_editor_adds_and_changes_a_feed_and_refuses_a_broken_template(owner_client):
    news = MailingList.objects.create(name="news")
    form = {
        "name": "Blog", "url": "https://blog.example.org/feed.xml", "lists": [news.pk],
        "interval_minutes": 30, "minimum_items": 2, "subject": "{{ feed }} news",
        "template": "{% for i in items %}{{ i.title }}{% endfor %}", "active": "on",
    }  # fmt: skip
    answer = owner_client.post(reverse("feed_new"), form)
    feed = Feed.objects.get()
    assert answer.status_code == 302 and answer["Location"] == reverse("feed_edit", args=[feed.pk])
    FeedItem.objects.create(feed=feed, guid="x", title="Hello", link="javascript:alert(1)")
    page = owner_client.get(reverse("feed_edit", args=[feed.pk])).content.decode()
    assert "Hello" in page and "javascript:" not in page, "only a web address is a link"
    broken = owner_client.post(reverse("feed_edit", args=[feed.pk]), {**form, "template": "{% if"})
    assert broken.status_code == 400 and "not a valid template" in broken.content.decode()
    assert Feed.objects.get().template == form["template"]
    owner_client.post(reverse("feed_edit", args=[feed.pk]), {**form, "minimum_items": 5})
    assert Feed.objects.get().minimum_items == 5
    owner_client.post(reverse("feed_check", args=[feed.pk]))
    assert Feed.objects.get().last_checked is None
    listing = owner_client.get(reverse("feeds")).content.decode()
    assert "Blog" in listing and "every 30 min, from 5 items" in listing
