"""Erasing a subscriber reaches their transactional mail too: the rows stay for the
counts, the address, content and attachments go, and what was not sent yet never is."""

import pytest

from postroom.audience import services as audience
from postroom.delivery.models import Delivery
from postroom.transactional.erasure import ERASED
from postroom.transactional.models import TxAttachment, TxMessage
from postroom.transactional.services import Attachment
from tests.transactional.helpers import receipt

pytestmark = pytest.mark.django_db


def test_erasure_blanks_the_persons_messages_linked_or_not_and_spares_others():
    before = receipt("zoe@example.net", subject="Your order, Zoë", body="Ship to 1 Main St.")
    zoe = audience.add_subscriber("zoe@example.net", name="Zoë")
    linked = receipt("zoe@example.net", attachments=[Attachment("invoice.pdf", b"%PDF")])
    other = receipt("bob@example.net", attachments=[Attachment("b.txt", b"B")])
    assert before.subscriber_id is None and linked.subscriber_id == zoe.pk
    Delivery.objects.filter(pk=before.delivery_id).update(state=Delivery.State.SENT)

    audience.erase(zoe)

    for message in (before, linked):
        message.refresh_from_db()
        assert (message.to_email, message.to_name, message.subject) == ("", "", ERASED)
        assert (message.html, message.text, message.data) == ("", "", {})
        assert message.delivery.email == ""
    assert TxMessage.objects.count() == 3  # the stream's history stays
    assert Delivery.objects.get(pk=before.delivery_id).state == Delivery.State.SENT
    unsent = Delivery.objects.get(pk=linked.delivery_id)
    assert (unsent.state, unsent.error) == (Delivery.State.SKIPPED, "erased")
    assert list(TxAttachment.objects.values_list("filename", flat=True)) == ["b.txt"]
    other.refresh_from_db()
    assert (other.to_email, other.subject, other.delivery.state) == (
        "bob@example.net", "Receipt", Delivery.State.PENDING,
    )  # fmt: skip
