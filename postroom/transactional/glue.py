"""The engine's hook (delivery.batches.row_builders): each claimed row's own message."""

from collections.abc import Callable

from django.utils.translation import gettext

from postroom.delivery.batches import CampaignContext
from postroom.delivery.ledger import Claimed
from postroom.mail.compose import BuiltMessage
from postroom.mail.errors import HeaderError, RenderError
from postroom.transactional import message
from postroom.transactional.models import TxMessage


def content_of(tx: TxMessage) -> message.Content:
    return message.Content(
        from_email=tx.from_email,
        from_name=tx.from_name,
        to_email=tx.to_email,
        to_name=tx.to_name,
        subject=tx.subject,
        html=tx.html,
        text=tx.text,
        message_id=tx.message_id,
        headers=dict(tx.headers or {}),
        attachments=tuple(
            message.Part(a.filename, a.content_type, bytes(a.data)) for a in tx.attachments.all()
        ),
    )


def build_rows(context: CampaignContext, rows: list[Claimed]) -> Callable[[Claimed], BuiltMessage]:
    """Load the batch's messages in two queries; the returned function builds one row.

    The envelope sender is the sender's return path when it has one (bounces go
    there), else the message's own From, as for campaigns.
    """
    stored = {
        tx.delivery_id: tx
        for tx in TxMessage.objects.filter(delivery_id__in=[r.id for r in rows]).prefetch_related(
            "attachments"
        )
    }
    sender = context.campaign.sender
    return_path = sender.envelope_from if sender is not None else ""

    def build(row: Claimed) -> BuiltMessage:
        tx = stored.get(row.id)
        if tx is None:
            raise RenderError(gettext("the transactional message was deleted before it was sent"))
        try:
            data = message.build(content_of(tx))
        except HeaderError as exc:  # refused on acceptance; a stored value that became invalid
            raise RenderError(
                gettext("the message cannot be built: %(exc)s") % {"exc": exc}
            ) from None
        return BuiltMessage(
            data,
            tx.message_id,
            return_path or tx.from_email,
            tx.to_email,
            message.needs_smtputf8(tx.to_email),
        )

    return build
