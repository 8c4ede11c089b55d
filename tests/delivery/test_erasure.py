"""Erasing a subscriber removes their address from the ledger and the outbox."""

import pytest

from postroom.audience import services as audience
from postroom.delivery import control
from postroom.delivery.models import Delivery, OutboxMessage
from tests.delivery.helpers import make_audience, make_campaign, run_until_idle

pytestmark = pytest.mark.django_db(transaction=True)


def test_erasure_blanks_sent_rows_and_deletes_outbox_copies():
    campaign = make_campaign(make_audience(3))
    control.start(campaign)
    run_until_idle()
    assert OutboxMessage.objects.filter(rcpt_to="user1@example.net").count() == 1

    audience.erase(audience.get_subscriber("user1@example.net"))

    rows = Delivery.objects.filter(campaign=campaign)
    assert not rows.filter(email="user1@example.net").exists()
    assert rows.filter(state="sent").count() == 3  # the history stays true
    assert rows.filter(email="", subscriber=None).count() == 1
    assert not OutboxMessage.objects.filter(rcpt_to="user1@example.net").exists()
    assert OutboxMessage.objects.filter(rcpt_to="user0@example.net").exists()


def test_an_erased_recipient_not_yet_sent_is_skipped():
    campaign = make_campaign(make_audience(2))
    control.start(campaign)

    audience.erase(audience.get_subscriber("user0@example.net"))
    run_until_idle()

    erased = Delivery.objects.get(campaign=campaign, email="")
    assert (erased.state, erased.error) == ("skipped", "erased")
    assert Delivery.objects.get(campaign=campaign, email="user1@example.net").state == "sent"
    assert not OutboxMessage.objects.filter(rcpt_to="user0@example.net").exists()
