"""How a subscription starts: where the consent came from, and whether it needs confirming."""

from django.utils.translation import gettext

from postroom.audience.models import MailingList, Subscription
from postroom.errors import InvalidInput


def clean_source(source: str) -> str:
    if source not in Subscription.Source.values:
        raise InvalidInput(
            gettext("consent source must be one of %(sources)s, not %(source)s")
            % {"sources": ", ".join(Subscription.Source.values), "source": repr(source)}
        )
    return source


def initial_status(mailing_list: MailingList, preconfirmed: bool = False) -> str:
    """Single opt-in needs no confirmation; double opt-in waits for one unless given."""
    if preconfirmed or mailing_list.optin == MailingList.Optin.SINGLE:
        return Subscription.Status.CONFIRMED
    return Subscription.Status.UNCONFIRMED
