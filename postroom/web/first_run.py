"""The first run: the one-time admin password, and whether it is still in use.

`postroom run` creates `admin` with a random password printed once. Until it is
changed the UI asks for a new one. Which password is "the one-time one" is kept
as an HMAC of the stored password hash in the audit log entry of its issue, so
nothing that could help guess it is stored, and any change of the password
(Settings, `createadmin --reset`, the emailed link) ends the prompt with no
extra bookkeeping.
"""

import hashlib
import hmac

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser

from postroom.accounts import audit
from postroom.accounts.models import AuditEntry

ISSUED = "one-time password issued"


def fingerprint(password_hash: str) -> str:
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, b"one-time:" + password_hash.encode(), hashlib.sha256).hexdigest()[:32]


def issued(user: AbstractBaseUser) -> None:
    """Record that `user`'s current password is the one printed by `postroom run`."""
    audit.record(None, ISSUED, target=user.get_username(), user=user,
                 detail=fingerprint(user.password))  # fmt: skip


def still_one_time(user: AbstractBaseUser) -> bool:
    """Whether `user` still logs in with the password `postroom run` printed."""
    if not getattr(user, "is_authenticated", False) or not user.password:
        return False
    last = (
        AuditEntry.objects.filter(user_id=user.pk, action=ISSUED)
        .order_by("-at", "-id")
        .values_list("detail", flat=True)
        .first()
    )
    return last is not None and hmac.compare_digest(last, fingerprint(user.password))
