"""A feed served over HTTP by the test: new items between checks go out once, in one digest each."""

import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from postroom.campaigns.models import Campaign
from postroom.errors import InvalidInput
from postroom.feeds import services
from postroom.feeds.models import Feed, FeedItem
from postroom.testing.smtpserver import CaptureServer
from tests.delivery.helpers import make_audience, run_until_settled, smtp_sender
from tests.delivery.processes import start_worker, wait_for


class FeedServer:
    """An RSS feed on a loopback port whose items the test changes."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = owner.rss().encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/feed.xml"

    def rss(self) -> str:
        entries = "".join(
            f"<item><guid>{guid}</guid><title>{title}</title>"
            f"<link>https://blog.example.org/{guid}</link>"
            f"<description>About {title}</description></item>"
            for guid, title in reversed(self.items)
        )
        channel = f"<channel><title>Blog</title>{entries}</channel>"
        return f'<?xml version="1.0"?><rss version="2.0">{channel}</rss>'

    def __enter__(self) -> "FeedServer":
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def make_feed(url: str, **fields) -> Feed:
    values = {
        "name": "Blog",
        "url": url,
        "lists": [make_audience(3)],
        "minimum_items": 2,
        "from_email": "blog@example.org",
    }
    values.update(fields)
    return services.create_feed(**values)


def make_due(feed: Feed) -> None:
    Feed.objects.filter(pk=feed.pk).update(last_checked=timezone.now() - timedelta(days=1))


@pytest.mark.django_db(transaction=True)
def test_new_items_go_out_once_in_one_digest_per_batch():
    server = CaptureServer()
    server.start()
    try:
        with FeedServer() as blog:
            feed = make_feed(blog.url, sender=smtp_sender(server))
            blog.items = [("a1", "First post")]
            assert services.background_step()
            assert not Campaign.objects.exists(), "one item waits for the minimum of two"
            blog.items.append(("a2", "Second &amp; more"))
            make_due(feed)
            assert services.background_step()
            first = Campaign.objects.get()
            assert first.status == Campaign.Status.RUNNING
            assert "First post" in first.body and "Second &amp; more" in first.body
            run_until_settled(first)
            assert not services.background_step(), "not due again until the interval passed"
            make_due(feed)
            services.background_step()
            assert Campaign.objects.count() == 1, "no new items, no digest"
            blog.items += [("a3", "Third {{ subscriber.email }}"), ("a4", "Fourth")]
            make_due(feed)
            services.background_step()
            second = Campaign.objects.exclude(pk=first.pk).get()
            assert "First post" not in second.body and "Fourth" in second.body
            run_until_settled(second)
    finally:
        server.stop()
    assert FeedItem.objects.filter(feed=feed).count() == 4
    assert not FeedItem.objects.filter(campaign=None).exists()
    assert len(server.messages) == 6  # 3 subscribers, 2 digests
    mentions = sum(b"Third" in m.data for m in server.messages)
    assert mentions == 3, "the third item went to each subscriber once"
    second.refresh_from_db()
    assert "{{ subscriber.email }}" not in second.body, "feed text is never read as a template"


@pytest.mark.django_db
def test_bad_input_is_refused_and_nothing_saved():
    with pytest.raises(InvalidInput, match="http"):
        make_feed("ftp://example.org/feed")
    with pytest.raises(InvalidInput, match="template"):
        make_feed("http://127.0.0.1:9/feed", template="{% for %}")
    assert not Feed.objects.exists()


@pytest.mark.django_db
def test_an_unreachable_feed_is_recorded_and_sends_nothing():
    feed = make_feed("http://127.0.0.1:9/feed")
    with pytest.raises(InvalidInput, match="feed Blog"):
        services.check(feed)
    feed.refresh_from_db()
    assert feed.last_error and feed.last_checked
    assert not Campaign.objects.exists()


@pytest.mark.slow
def test_a_real_worker_sends_the_digest(subprocess_env):
    server = CaptureServer()
    server.start()
    try:
        with FeedServer() as blog:
            blog.items = [("b1", "One"), ("b2", "Two")]
            make_feed(blog.url, sender=smtp_sender(server))
            worker = start_worker(subprocess_env)
            try:
                done = wait_for(
                    lambda: Campaign.objects.filter(status=Campaign.Status.FINISHED).exists(), 90
                )
            finally:
                worker.terminate()
                worker.wait(30)
    finally:
        server.stop()
    assert done
    assert Campaign.objects.count() == 1
    assert len({m.rcpt_to[0] for m in server.messages}) == len(server.messages) == 3
