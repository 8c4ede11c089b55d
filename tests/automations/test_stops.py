"""A sequence stops for who unsubscribes or bounces: real worker processes, a real SMTP
server that refuses one address for good (550), the unsubscribe as a reader makes it."""

import pytest
from django.utils import timezone

from postroom.audience import services as audience
from postroom.audience.models import Suppression
from postroom.automations.models import Enrolment
from postroom.testing.smtpserver import CaptureServer
from tests.automations.helpers import fast_forward, join, welcome
from tests.delivery.helpers import make_audience, smtp_sender
from tests.delivery.processes import start_worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def run_worker(env) -> None:
    worker = start_worker(env, "--until-idle")
    assert worker.wait(120) == 0, worker.stderr.read()


def test_who_unsubscribes_or_bounces_gets_no_further_step(subprocess_env):
    news = make_audience(0)
    server = CaptureServer(rcpt_reply={"joiner1@example.net": "550 5.1.1 no such mailbox"})
    server.start()
    try:
        automation = welcome(news, smtp_sender(server), steps=2, wait="1d")
        kept, bounces, leaves = join(news, 3)
        run_worker(subprocess_env)  # step 1; step 2 is a day away, beyond --until-idle
        assert Suppression.objects.filter(reason="bounced").count() == 1
        audience.unsubscribe(leaves, [news], source="link")
        fast_forward(automation, timezone.now())
        run_worker(subprocess_env)  # step 2
    finally:
        server.stop()
    got = [(m.rcpt_to[0], m.data.split(b"Subject: ")[1][:9]) for m in server.messages]
    assert sorted(got) == [
        (kept.email, b"Welcome 1"),
        (kept.email, b"Welcome 2"),
        (leaves.email, b"Welcome 1"),
    ]
    rows = {e.subscriber_id: (e.state, e.reason) for e in Enrolment.objects.all()}
    assert rows == {
        kept.pk: ("completed", ""),
        bounces.pk: ("stopped", "suppressed (bounced)"),
        leaves.pk: ("stopped", "unsubscribed"),
    }
