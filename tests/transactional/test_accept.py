"""What accepting a message writes: its rows in one transaction, a wake-up only for idle
workers, and no audit entry beside the message's own record."""

import json

import pytest

from postroom.accounts.models import AuditEntry
from postroom.api.models import ApiToken
from postroom.delivery import scheduler
from postroom.delivery.models import Delivery
from postroom.transactional import services
from postroom.transactional.models import TxAttachment, TxMessage
from postroom.transactional.services import Attachment
from tests.transactional.helpers import receipt

pytestmark = pytest.mark.django_db


def post_tx(client, secret: str, payload: dict):
    return client.post(
        "/api/tx",
        json.dumps(payload),
        content_type="application/json",
        headers={"authorization": f"Bearer {secret}"},
    )


def test_each_recipient_gets_its_message_its_ledger_row_and_the_attachments():
    receipt("ada@example.net")  # the stream exists; the next request writes only its rows
    request = services.TxRequest(
        to=["bob@example.net", "cy@example.net"],
        subject="Receipt",
        body="Thanks.",
        from_address="shop@example.org",
        attachments=[Attachment("a.txt", b"A"), Attachment("b.txt", b"B")],
    )
    first = services.accept(request).messages[0]
    messages = list(
        TxMessage.objects.filter(to_email__in=["bob@example.net", "cy@example.net"]).order_by("pk")
    )
    assert first == messages[0] and [m.key_position for m in messages] == [0, 1]
    assert [m.delivery.email for m in messages] == ["bob@example.net", "cy@example.net"]
    assert {m.delivery.state for m in messages} == {Delivery.State.PENDING}
    names = sorted(TxAttachment.objects.values_list("message__to_email", "filename"))
    assert names == [
        ("bob@example.net", "a.txt"), ("bob@example.net", "b.txt"),
        ("cy@example.net", "a.txt"), ("cy@example.net", "b.txt"),
    ]  # fmt: skip


def test_a_message_wakes_idle_workers_but_not_a_stream_with_messages_waiting():
    before = scheduler.generation()
    receipt("ada@example.net")
    woken = scheduler.generation()
    assert woken > before
    receipt("bob@example.net")  # ada's is still waiting: a worker is on the stream
    assert scheduler.generation() == woken
    Delivery.objects.update(state=Delivery.State.SENT)
    receipt("cy@example.net")
    assert scheduler.generation() > woken


def test_a_queued_message_is_its_own_record_and_a_refused_one_is_audited(client, owner):
    secret = ApiToken.issue(owner, "shop")[1]
    ok = post_tx(client, secret, {"to": "ada@example.net", "subject": "S", "body": "B",
                                  "from": "shop@example.org"})  # fmt: skip
    assert ok.status_code == 202, ok.content
    message = TxMessage.objects.get()
    assert (message.created_by, message.source) == (owner, TxMessage.Source.API)
    assert not AuditEntry.objects.exists()
    bad = post_tx(client, secret, {"to": "not an address", "subject": "S", "body": "B"})
    assert bad.status_code == 400
    entry = AuditEntry.objects.get()
    assert (entry.username, entry.target, entry.detail) == (
        "owner",
        "POST /api/tx",
        "not done (400)",
    )
