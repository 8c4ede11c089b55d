"""Email address validation and normalisation: the one gate every address passes.

The canonical form is what email-validator returns (Unicode domain, NFC),
lower-cased as a whole, so `X@Example.COM`, ` x@example.com ` and
`x@xn--exmple-cua.com` variants of one mailbox are one subscriber.

`email_validator.validate_email` costs about 40 µs an address, which alone
would make a million-row import take 40 s. Nearly every real address is plain
ASCII `dot-atom@domain`, and a file holds few distinct domains, so the fast
path checks the local part with email-validator's own dot-atom pattern and
validates each distinct domain once (cached) with email-validator's own domain
function. Everything else, and every failure, goes through the full validator,
so results and error messages are exactly the reference's
(tests/imports/test_emails.py proves it with hypothesis).
"""

import functools
import hashlib

from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import DOT_ATOM_TEXT, EMAIL_MAX_LENGTH
from email_validator.syntax import validate_email_domain_name

from postroom.errors import InvalidInput


class InvalidEmail(InvalidInput):
    """An address that is not a deliverable mailbox syntax."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        # The validator's own sentence, for reports that show the value separately.
        self.detail = detail or message


def normalize_email(raw: str) -> str:
    """Return the canonical form of `raw`, or raise InvalidEmail with the reason."""
    value = (raw or "").strip()
    if not value:
        raise InvalidEmail("the email address is empty", "The email address is empty.")
    fast = _fast_normalize(value)
    if fast is not None:
        return fast
    return reference_normalize(value)


def reference_normalize(value: str) -> str:
    """The slow, authoritative path: email-validator in full."""
    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidEmail(f"{value!r} is not a valid email address: {exc}", str(exc)) from None
    return result.normalized.lower()


def _fast_normalize(value: str) -> str | None:
    """The canonical form for a plain ASCII address, or None to ask the full validator.

    It mirrors validate_email's steps for the case where they are trivial: an
    ASCII string without quotes or angle brackets splits at its only `@`; an
    ASCII dot-atom local part is returned unchanged (NFC cannot change ASCII);
    the domain result depends on the domain alone; then the three length checks.
    """
    if not value.isascii() or value.count("@") != 1 or '"' in value or "<" in value:
        return None
    local, domain = value.split("@")
    if not DOT_ATOM_TEXT.match(local):
        return None
    checked = _domain(domain)
    if checked is None:
        return None
    ascii_domain, unicode_domain = checked
    normalized = f"{local}@{unicode_domain}"
    if (
        len(value) > EMAIL_MAX_LENGTH
        or len(f"{local}@{ascii_domain}") > EMAIL_MAX_LENGTH
        or len(normalized.encode()) > EMAIL_MAX_LENGTH
    ):
        return None
    return normalized.lower()


@functools.lru_cache(maxsize=4096)
def _domain(domain: str) -> tuple[str, str] | None:
    """(ASCII form, Unicode form) of a valid domain, None when invalid (the caller falls back)."""
    try:
        info = validate_email_domain_name(domain, test_environment=False, globally_deliverable=True)
    except EmailNotValidError:
        return None
    return info["ascii_domain"], info["domain"]


def email_hash(normalized: str) -> str:
    """The suppression key: erasing a subscriber keeps only this, never the address."""
    return hashlib.sha256(normalized.encode()).hexdigest()
