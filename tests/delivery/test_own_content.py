"""A campaign kind whose ledger rows carry their own message (transactional mail) is sent
by the same engine: the registered builder makes each row's message, and a row it
cannot build fails alone."""

import pytest

from postroom.campaigns.models import Campaign
from postroom.delivery import batches
from postroom.delivery.models import Delivery, OutboxMessage
from postroom.mail.compose import BuiltMessage
from postroom.mail.errors import RenderError
from tests.delivery.helpers import run_until_idle

pytestmark = pytest.mark.django_db(transaction=True)


def stream() -> Campaign:
    return Campaign.objects.create(
        name="Transactional",
        kind=Campaign.Kind.TRANSACTIONAL,
        subject="-",
        from_email="shop@example.org",
        body="-",
        status=Campaign.Status.RUNNING,
    )


def own_message(row) -> BuiltMessage:
    if row.email.startswith("broken"):
        raise RenderError("this row's data is broken")
    data = (
        f"From: shop@example.org\r\nTo: {row.email}\r\nSubject: Receipt {row.id}\r\n"
        f"Message-ID: <r{row.id}@example.org>\r\n\r\nThanks.\r\n"
    ).encode()
    return BuiltMessage(data, f"<r{row.id}@example.org>", "shop@example.org", row.email, False)


def test_it_sends_each_row_its_own_message_and_fails_a_row_that_cannot_be_built(monkeypatch):
    loaded = []

    def builder(context, rows):
        loaded.append([r.id for r in rows])  # one load per batch, not per row
        return own_message

    monkeypatch.setitem(batches.row_builders, Campaign.Kind.TRANSACTIONAL, builder)
    campaign = stream()
    for email in ("ada@example.net", "broken@example.net", "bob@example.net"):
        Delivery.objects.create(campaign=campaign, email=email)

    run_until_idle()

    rows = {d.email: d for d in Delivery.objects.filter(campaign=campaign)}
    assert {e: d.state for e, d in rows.items()} == {
        "ada@example.net": "sent",
        "broken@example.net": "failed",
        "bob@example.net": "sent",
    }
    assert "this row's data is broken" in rows["broken@example.net"].error
    assert rows["ada@example.net"].message_id == f"<r{rows['ada@example.net'].pk}@example.org>"
    subjects = sorted(m.subject.encode() for m in OutboxMessage.objects.all())
    assert subjects == sorted(
        f"Receipt {rows[e].pk}".encode() for e in ("ada@example.net", "bob@example.net")
    )
    assert len(loaded) == 1 and len(loaded[0]) == 3
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.RUNNING  # a stream stays open for the next one
