"""A row whose processing fails in an unexpected way spends its attempts and fails alone.

Two ways a row can be poison: its processing raises (the worker catches it, the row
spends an attempt), or it kills the whole process (the journal says which row was
being built; from the second death on, each spends an attempt).
"""

import signal
import subprocess
import sys

import pytest

from postroom.campaigns.models import Campaign
from postroom.delivery import control, recovery
from postroom.delivery.models import Delivery
from postroom.delivery.worker import DeliveryWorker
from postroom.mail.compose import CompiledCampaign
from tests.delivery.helpers import make_audience, make_campaign, run_until_settled, states

pytestmark = pytest.mark.django_db(transaction=True)

POISON = "user3@example.net"


def raise_for_poison(monkeypatch) -> None:
    real = CompiledCampaign.build

    def build(self, recipient):
        if recipient.email == POISON:
            raise KeyError("a value nobody expected")
        return real(self, recipient)

    monkeypatch.setattr(CompiledCampaign, "build", build)


def test_an_unexpected_error_on_one_row_spends_its_attempts_and_fails_it_alone(
    monkeypatch, settings
):
    settings.POSTROOM_MAX_ATTEMPTS = 3
    settings.POSTROOM_RETRY_BASE_SECONDS = 0
    raise_for_poison(monkeypatch)
    campaign = make_campaign(make_audience(8))
    control.start(campaign)
    worker = DeliveryWorker()

    assert worker.process_one_batch()  # no exception escapes: the batch goes on
    poison = Delivery.objects.get(campaign=campaign, email=POISON)
    assert (poison.state, poison.attempts) == ("retry", 1)
    assert "unexpected error while building the message: KeyError" in poison.error

    run_until_settled(campaign, worker)

    poison.refresh_from_db()
    assert campaign.status == Campaign.Status.FINISHED
    assert (poison.state, poison.attempts) == ("failed", 3)
    assert poison.error.startswith("gave up after 3 attempts: unexpected error while building")
    others = {email: state for email, state in states(campaign).items() if email != POISON}
    assert set(others.values()) == {"sent"} and len(others) == 7
    worker.close()


def test_an_error_inside_the_smtp_client_for_one_message_spends_an_attempt(
    monkeypatch, settings, tmp_path
):
    from postroom.mail.smtp import SmtpConnection
    from postroom.testing.smtpserver import CaptureServer
    from tests.delivery.helpers import smtp_sender

    settings.POSTROOM_RETRY_BASE_SECONDS = 60
    real = SmtpConnection._prepare

    def prepare(self, token, msg):
        if POISON.encode() in msg.data:
            raise UnicodeError("the client tripped on this message")
        return real(self, token, msg)

    monkeypatch.setattr(SmtpConnection, "_prepare", prepare)
    with CaptureServer() as server:
        campaign = make_campaign(make_audience(5), sender=smtp_sender(server))
        control.start(campaign)
        worker = DeliveryWorker()
        for _ in range(5):
            worker.process_one_batch()
        worker.close()
        assert len(server.messages) == 4
    poison = Delivery.objects.get(campaign=campaign, email=POISON)
    assert (poison.state, poison.attempts) == ("retry", 1)
    assert "could not prepare the message: UnicodeError" in poison.error


# A real worker whose process dies (as in a crash of a C extension) on one recipient.
KILLED_ON_POISON = """
import os, signal, sys
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "postroom.settings")
django.setup()
from postroom import cli
from postroom.mail.compose import CompiledCampaign

real = CompiledCampaign.build

def build(self, recipient):
    if recipient.email == sys.argv[1]:
        os.kill(os.getpid(), signal.SIGKILL)
    return real(self, recipient)

CompiledCampaign.build = build
sys.exit(cli.main(["worker", "--until-idle"]))
"""


@pytest.mark.slow
def test_a_row_that_kills_its_worker_fails_after_the_attempts_and_the_rest_is_sent(
    subprocess_env, settings
):
    env = {
        **subprocess_env,
        "POSTROOM_MAX_ATTEMPTS": "2",
        "POSTROOM_RETRY_BASE_SECONDS": "0",
    }
    settings.POSTROOM_MAX_ATTEMPTS = 2
    campaign = make_campaign(make_audience(30))
    control.start(campaign)
    deaths = 0
    for _ in range(10):
        worker = subprocess.Popen(
            [sys.executable, "-c", KILLED_ON_POISON, POISON],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        code = worker.wait(120)
        if code == 0:
            break
        assert code == -signal.SIGKILL, worker.stderr.read()
        deaths += 1
        poison = Delivery.objects.get(campaign=campaign, email=POISON)
        if deaths == 1:  # once looks like any kill: nothing spent yet
            recovery.reclaim([campaign.pk])
            poison.refresh_from_db()
            assert (poison.state, poison.attempts, poison.crashes) == ("pending", 0, 1)
    else:
        pytest.fail(f"the worker kept dying: {deaths} deaths")

    campaign.refresh_from_db()
    poison = Delivery.objects.get(campaign=campaign, email=POISON)
    assert campaign.status == Campaign.Status.FINISHED
    assert poison.state == "failed"
    assert poison.error.startswith("gave up after 2 attempts: the worker process died while")
    assert deaths == 3  # the first death spends nothing, then one attempt per death
    others = Delivery.objects.filter(campaign=campaign).exclude(email=POISON)
    assert set(others.values_list("state", flat=True)) == {"sent"}
    assert set(others.values_list("attempts", flat=True)) == {1}  # nobody else paid
