"""Webhooks and feeds never reach this machine or its private network unless allowed:
the address checked is the one the socket connects to, redirects included."""

import ipaddress
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from postroom import outbound
from postroom.feeds import services as feeds
from postroom.webhooks import sender
from postroom.webhooks.events import emit
from postroom.webhooks.models import WebhookDelivery
from tests.webhooks.receiver import Receiver
from tests.webhooks.test_delivery import endpoint_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "192.168.0.1",
        "169.254.169.254",
        "100.64.0.1",
        "::1",
        "fe80::1",
        "::ffff:127.0.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "fd00::1",
    ],
)
def test_local_private_and_metadata_addresses_are_refused(settings, address):
    settings.POSTROOM_OUTBOUND_ALLOW = []
    assert not outbound.allowed(ipaddress.ip_address(address))


def test_public_addresses_and_allowed_networks_pass(settings):
    settings.POSTROOM_OUTBOUND_ALLOW = [ipaddress.ip_network("10.0.0.0/8")]
    assert outbound.allowed(ipaddress.ip_address("93.184.215.14"))
    assert outbound.allowed(ipaddress.ip_address("2606:4700::1"))
    assert outbound.allowed(ipaddress.ip_address("10.9.9.9"))
    assert not outbound.allowed(ipaddress.ip_address("192.168.1.1"))


def test_a_webhook_to_a_loopback_address_is_never_posted(settings):
    settings.POSTROOM_WEBHOOK_TIMEOUT_SECONDS = 0.5
    with Receiver() as receiver:
        endpoint_for(receiver)
        settings.POSTROOM_OUTBOUND_ALLOW = []
        emit("subscriber.created", {"n": 1})
        sender.deliver_due()
        assert receiver.received == []
    row = WebhookDelivery.objects.get()
    assert row.last_status is None
    assert "127.0.0.1" in row.last_error and "POSTROOM_OUTBOUND_ALLOW" in row.last_error


class _Redirecting:
    """An allowed feed address that redirects to a forbidden one (another loopback
    address, which the allow-list of the test session does not hold)."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(302)
                self.send_header("Location", f"http://127.0.0.2:{self.server.server_address[1]}/x")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/feed.xml"

    def __enter__(self) -> "_Redirecting":
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_a_feed_redirect_to_a_forbidden_address_is_refused():
    with _Redirecting() as server, pytest.raises(OSError) as refused:
        feeds.fetch(server.url)
    assert "127.0.0.2" in str(refused.value)
    assert "POSTROOM_OUTBOUND_ALLOW" in str(refused.value)
