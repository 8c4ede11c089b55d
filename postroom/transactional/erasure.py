"""Erasure reaches transactional mail: an erased person's messages keep their row (the
stream's counts stay true) but lose the address, the content and the attachments.

Matched by the subscriber link and by address, since a message sent before the
person subscribed has no link but is theirs all the same.
"""

from django.db.models import Q

from postroom.audience.models import Subscriber
from postroom.delivery.erasure import NOT_YET_SENT
from postroom.delivery.models import Delivery
from postroom.transactional.models import TxAttachment, TxMessage

ERASED = "(erased)"


def forget_erased(sender, subscriber_ids: list[int], **kwargs) -> None:
    """Connected to audience.signals.subscribers_erasing; runs inside the erasure's transaction."""
    emails = list(Subscriber.objects.filter(pk__in=subscriber_ids).values_list("email", flat=True))
    messages = TxMessage.objects.filter(
        Q(subscriber_id__in=subscriber_ids) | Q(to_email__in=emails)
    )
    ids = list(messages.values_list("pk", flat=True))
    if not ids:
        return
    rows = Delivery.objects.filter(tx__in=ids)
    rows.filter(state__in=NOT_YET_SENT).update(state=Delivery.State.SKIPPED, error="erased")
    rows.update(email="", reply="")
    TxAttachment.objects.filter(message_id__in=ids).delete()
    TxMessage.objects.filter(pk__in=ids).update(
        to_email="", to_name="", subject=ERASED, html="", text="", headers={}, data={}
    )
