"""Un-suppressing an address a bounce or complaint suppressed, with the reason on record.

    lift(bounce, user, "The mailbox exists again: the reader wrote to us")

A bounce or a complaint suppresses at once; an operator who knows better (the
receiver's mistake, a mailbox restored) lifts it here, never silently: who, when
and why are kept on every bounce of that address, and the Bounces page shows them.
An unsubscribe or a blocklisting is not lifted here: only the person (a fresh
consent) or the blocklist page undoes those. Lists a complaint left stay left:
lifting makes the address mailable again, it does not subscribe anyone.
"""

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from postroom.audience.emails import email_hash
from postroom.audience.models import Suppression
from postroom.errors import InvalidInput
from postroom.tracking.models import Bounce

LIFTABLE = (Suppression.Reason.BOUNCED, Suppression.Reason.COMPLAINED)


@transaction.atomic
def lift(bounce: Bounce, user: AbstractBaseUser | None, reason: str) -> int:
    """Lift the suppression of `bounce`'s address; returns how many bounces were marked."""
    reason = " ".join(reason.split())
    if len(reason) < 3:
        raise InvalidInput(
            gettext("say why the address may be mailed again (a few words at least)")
        )
    if len(reason) > 500:
        raise InvalidInput(gettext("the reason is longer than 500 characters"))
    suppression = Suppression.objects.filter(email_hash=email_hash(bounce.email)).first()
    if suppression is not None and suppression.reason not in LIFTABLE:
        raise InvalidInput(
            gettext(
                "%(email)s is suppressed because it was %(reason)s, not by a bounce or complaint: "
                "that is not lifted here"
            )
            % {"email": bounce.email, "reason": suppression.reason}
        )
    if suppression is None and bounce.lifted_at is not None:
        raise InvalidInput(
            gettext("%(email)s is not suppressed: it was lifted already") % {"email": bounce.email}
        )
    if suppression is not None:
        suppression.delete()
    return Bounce.objects.filter(email=bounce.email, lifted_at__isnull=True).update(
        lifted_at=timezone.now(), lifted_by=user, lift_reason=reason
    )
