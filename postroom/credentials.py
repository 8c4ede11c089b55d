"""Passwords Postroom must hand back to a server (SMTP senders, bounce mailboxes), sealed at
rest with Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`).

The keys come from settings (POSTROOM_CREDENTIALS_KEY, comma-separated, the
first one seals; by default one derived from SECRET_KEY), so a copy of the
database alone gives nobody the passwords. Rotation: put the new key first and
keep the old one after it, run `postroom credentials rotate` (it re-seals every
stored password with the first key), then drop the old key.
"""

import os

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.utils.translation import gettext

from postroom.errors import ConfigurationError, InvalidInput

PREFIX = "fernet:"


def _keys() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in settings.POSTROOM_CREDENTIALS_KEYS])


def seal(password: str) -> str:
    return PREFIX + _keys().encrypt(password.encode()).decode()


def unseal(stored: str) -> str:
    if not stored.startswith(PREFIX):
        return stored  # stored before sealing existed; `credentials rotate` seals it
    try:
        return _keys().decrypt(stored[len(PREFIX) :].encode()).decode()
    except InvalidToken:
        raise ConfigurationError(
            gettext(
                "a stored password cannot be opened with POSTROOM_CREDENTIALS_KEY: was the key"
                " (or SECRET_KEY, which it defaults to) changed without keeping the old one"
                " after the new?"
            )
        ) from None


def reseal(stored: str) -> str:
    """The same password sealed with the first key (for rotation)."""
    if not stored:
        return stored
    if not stored.startswith(PREFIX):
        return seal(stored)
    return PREFIX + _keys().rotate(stored[len(PREFIX) :].encode()).decode()


def check_password_env(name: str) -> None:
    """Refuse a variable outside POSTROOM_SMTP_PASSWORD_ENV_PREFIX: otherwise anyone who may
    edit a sender could have the server's SECRET_KEY or DATABASE_URL sent, as an SMTP
    password, to a host of their choosing."""
    prefix = settings.POSTROOM_SMTP_PASSWORD_ENV_PREFIX
    if prefix and not name.startswith(prefix):
        raise InvalidInput(
            gettext(
                "the password variable must be named %(prefix)s…, not %(name)s"
                " (POSTROOM_SMTP_PASSWORD_ENV_PREFIX limits which variables a sender may read)"
            )
            % {"prefix": prefix, "name": repr(name)}
        )


def from_environment(name: str) -> str | None:
    """The secret in the environment variable `name`, or None when unset or empty.

    Secrets named at run time (a sender's `password_env`, `createadmin
    --password-env`) are read here, at the moment of use, so they are never
    copied into settings or the database; settings.py reads everything else.
    """
    return os.environ.get(name) or None
