"""Test sends: their own Message-ID, a subject prefix, and never refused by a rate limit."""

import email
import email.policy
import json
import re
import time

import pytest
from django.urls import reverse

from postroom.cli import main
from postroom.delivery import control, ratelimit
from postroom.delivery.models import OutboxMessage, QueuedMessage, Sender
from postroom.delivery.worker import DeliveryWorker
from postroom.testing.smtpserver import CaptureServer
from postroom.tracking.links import default_signer
from tests.delivery.helpers import run_until_idle

pytestmark = pytest.mark.django_db(transaction=True)


def _parsed(received) -> email.message.EmailMessage:
    return email.message_from_bytes(received.data, policy=email.policy.default)


@pytest.fixture
def server():
    with CaptureServer() as running:
        yield running


@pytest.fixture
def capture(server):
    return Sender.objects.create(name="capture", host=server.host, port=server.port, tls="none")


def test_a_test_send_has_its_own_message_id_and_the_prefix(server, capture, campaign, ann):
    campaign.sender = capture
    campaign.save()
    first = control.send_test(campaign, [ann.email])
    second = control.send_test(campaign, [ann.email])
    assert [o.describe() for o in first + second] == [f"test sent to {ann.email}"] * 2
    control.start(campaign)
    run_until_idle()
    received = [_parsed(m) for m in server.wait_for(3)]
    assert len(received) == 3
    test_one, test_two, real = received
    tag = default_signer().install_tag
    assert real["Message-ID"] == f"<{campaign.pk}.{ann.pk}.{tag}@example.org>"
    for test in (test_one, test_two):
        assert re.fullmatch(
            rf"<test-[0-9a-f]{{12}}\.{campaign.pk}\.{ann.pk}\.{tag}@example\.org>",
            test["Message-ID"],
        )
    assert len({test_one["Message-ID"], test_two["Message-ID"], real["Message-ID"]}) == 3
    assert test_one["Subject"] == "[Test] Spring news for Ann"
    assert real["Subject"] == "Spring news for Ann"


def test_the_prefix_can_be_changed_or_switched_off_in_the_cli(server, capture, campaign, capsys):
    campaign.sender = capture
    campaign.save()
    for extra in (["--no-prefix"], ["--prefix", "[Draft] "]):
        code = main(["campaign", "test", str(campaign.pk), "--to", "boss@example.net", *extra])
        assert code == 0
    out = capsys.readouterr().out
    assert out.splitlines() == ["test sent to boss@example.net"] * 2
    subjects = [_parsed(m)["Subject"] for m in server.wait_for(2)]
    assert subjects == ["Spring news for Ada", "[Draft] Spring news for Ada"]


def test_a_rate_limited_test_waits_for_its_slot_and_then_leaves(server, capture, campaign, capsys):
    """The 35/hour story at 1 per 4 seconds: the window is used, a test to two
    addresses is queued (not refused), and a worker sends each in its slot."""
    ratelimit.set_limits(capture, ["1/4 seconds"])
    campaign.sender = capture
    campaign.save()
    assert control.send_test(campaign, ["first@example.net"])[0].describe() == (
        "test sent to first@example.net"
    )
    asked = time.time()
    code = main(["campaign", "test", str(campaign.pk), "--json",
                 "--to", "a@example.net", "--to", "b@example.net"])  # fmt: skip
    rows = json.loads(capsys.readouterr().out)
    assert code == 0
    assert [r["outcome"] for r in rows] == ["queued", "queued"]
    a_at, b_at = rows[0]["leaves_at"], rows[1]["leaves_at"]
    assert asked + 3.5 < a_at < asked + 6 and b_at - a_at >= 4
    leave = re.compile(
        r"the test to (\S+) will leave at \d\d:\d\d:\d\d, in \d s \(the sender's rate limit\)"
    )
    assert [leave.fullmatch(r["message"]).group(1) for r in rows] == [
        "a@example.net",
        "b@example.net",
    ]
    assert len(server.messages) == 1  # nothing left early

    worker = DeliveryWorker()
    deadline = time.time() + 60
    while len(server.messages) < 3 and time.time() < deadline:
        worker.maintain(force=True)
        time.sleep(0.1)
    worker.close()
    received = {m.rcpt_to[0]: m for m in server.messages}
    assert set(received) == {"first@example.net", "a@example.net", "b@example.net"}
    # Each left in its slot, not before it: what the user was told.
    assert received["a@example.net"].received_at >= a_at - 0.05
    assert received["b@example.net"].received_at >= b_at - 0.05
    states = set(QueuedMessage.objects.values_list("state", flat=True))
    assert states == {QueuedMessage.State.SENT}


def test_the_editor_sends_a_test_with_the_prefix_and_says_so(owner_client, campaign):
    url = reverse("campaign_test", args=[campaign.pk])
    response = owner_client.post(
        url, {"addresses": "boss@example.net", "prefix": "on"}, follow=True
    )
    assert b"Test sent to boss@example.net." in response.content
    assert OutboxMessage.objects.get().subject == "[Test] Spring news for Ada"
    owner_client.post(url, {"addresses": "boss@example.net"})
    assert OutboxMessage.objects.order_by("id").last().subject == "Spring news for Ada"
