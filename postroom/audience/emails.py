"""Email address validation and normalisation: the one gate every address passes.

The canonical form is what email-validator returns (Unicode domain, NFC),
lower-cased as a whole, so `X@Example.COM`, ` x@example.com ` and
`x@xn--exmple-cua.com` variants of one mailbox are one subscriber.
"""

import hashlib

from email_validator import EmailNotValidError, validate_email

from postroom.errors import InvalidInput


class InvalidEmail(InvalidInput):
    """An address that is not a deliverable mailbox syntax."""


def normalize_email(raw: str) -> str:
    """Return the canonical form of `raw`, or raise InvalidEmail with the reason."""
    value = (raw or "").strip()
    if not value:
        raise InvalidEmail("the email address is empty")
    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidEmail(f"{value!r} is not a valid email address: {exc}") from None
    return result.normalized.lower()


def email_hash(normalized: str) -> str:
    """The suppression key: erasing a subscriber keeps only this, never the address."""
    return hashlib.sha256(normalized.encode()).hexdigest()
