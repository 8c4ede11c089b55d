"""Erasure reaches the ledger: a deleted subscriber's address leaves every delivery record.

The row itself stays (the campaign's counts and history remain true), but
without the address, the server reply (which often quotes it), or a captured
copy of the message in the local outbox.
"""

from django.db.models import Q

from postroom.audience.models import Subscriber
from postroom.delivery import texts as T
from postroom.delivery.models import Delivery, OutboxMessage

NOT_YET_SENT = (Delivery.State.PENDING, Delivery.State.RETRY)


def forget_erased(sender, subscriber_ids: list[int], **kwargs) -> None:
    """Connected to audience.signals.subscribers_erasing; runs inside the erasure's transaction."""

    emails = list(Subscriber.objects.filter(pk__in=subscriber_ids).values_list("email", flat=True))
    rows = Delivery.objects.filter(subscriber_id__in=subscriber_ids)
    rows.filter(state__in=NOT_YET_SENT).update(state=Delivery.State.SKIPPED, error=T.ROW_ERASED)
    rows.update(email="", reply="")
    OutboxMessage.objects.filter(Q(rcpt_to__in=emails)).delete()
