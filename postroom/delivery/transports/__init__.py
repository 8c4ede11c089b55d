"""Ways of sending mail, registered in one place.

A Sender row names its transport in `kind`; no sender at all means the local
capture outbox. Adding a provider (SES, Postmark, ...) is one module here and
one line in TRANSPORTS.
"""

from django.utils.translation import gettext

from postroom.delivery.models import Sender
from postroom.delivery.transports.base import Transport
from postroom.delivery.transports.outbox import OutboxTransport
from postroom.delivery.transports.signing import SigningTransport
from postroom.delivery.transports.smtp import SmtpTransport
from postroom.errors import InvalidInput
from postroom.mail.smtp import Journal

TRANSPORTS: dict[str, type] = {
    "smtp": SmtpTransport,
    "outbox": OutboxTransport,
}


def transport_for(sender: Sender | None, journal: Journal | None = None) -> Transport:
    """A new transport for `sender` (None: the local outbox); the caller closes it.

    A worker passes its journal, told of every final dot and reply (see `delivery.journal`).
    """
    if sender is None:
        return OutboxTransport()
    try:
        cls = TRANSPORTS[sender.kind]
    except KeyError:
        raise InvalidInput(
            gettext("sender %(name)s has an unknown kind %(kind)s")
            % {"name": repr(sender.name), "kind": repr(sender.kind)}
        ) from None
    if sender.dkim_domain:  # every message through it is signed here, once
        return SigningTransport(cls(sender, journal=journal), sender)
    return cls(sender, journal=journal)


__all__ = ["TRANSPORTS", "Transport", "transport_for"]
