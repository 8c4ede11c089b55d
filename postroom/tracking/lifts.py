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
        raise InvalidInput("say why the address may be mailed again (a few words at least)")
    if len(reason) > 500:
        raise InvalidInput("the reason is longer than 500 characters")
    suppression = Suppression.objects.filter(email_hash=email_hash(bounce.email)).first()
    if suppression is not None and suppression.reason not in LIFTABLE:
        raise InvalidInput(
            f"{bounce.email} is suppressed because it was {suppression.reason}, not by a bounce "
            "or complaint: that is not lifted here"
        )
    if suppression is None and bounce.lifted_at is not None:
        raise InvalidInput(f"{bounce.email} is not suppressed: it was lifted already")
    if suppression is not None:
        suppression.delete()
    return Bounce.objects.filter(email=bounce.email, lifted_at__isnull=True).update(
        lifted_at=timezone.now(), lifted_by=user, lift_reason=reason
    )
