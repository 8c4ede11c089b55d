"""This installation's link signer, from Django settings, and shortcuts through it.

The signing itself (tokens, URLs, VERP tags) needs no Django: `postroom.mail.links`.
"""

from functools import lru_cache

from django.conf import settings

from postroom.mail.links import LinkSigner


def default_signer() -> LinkSigner:
    """The signer for this installation, from Django settings.

    POSTROOM_UNSUBSCRIBE_MAILBOX (optional) is the address that receives
    `mailto:` unsubscribe requests; without it the campaign's From address is used.
    """
    return _signer(
        settings.SECRET_KEY,
        settings.POSTROOM_BASE_URL,
        getattr(settings, "POSTROOM_UNSUBSCRIBE_MAILBOX", ""),
    )


@lru_cache(maxsize=4)
def _signer(secret_key: str, base_url: str, mailbox: str) -> LinkSigner:
    return LinkSigner(secret_key, base_url, mailbox)


def unsubscribe_url(campaign_id: int, subscriber_id: int) -> str:
    return default_signer().unsubscribe_url(campaign_id, subscriber_id)


def preferences_url(subscriber_id: int) -> str:
    return default_signer().preferences_url(subscriber_id)


def view_url(campaign_id: int, subscriber_id: int) -> str:
    return default_signer().view_url(campaign_id, subscriber_id)


def confirm_url(subscriber_id: int, list_id: int, issued_ms: int) -> str:
    return default_signer().confirm_url(subscriber_id, list_id, issued_ms)


def unsubscribe_mailto(campaign_id: int, subscriber_id: int, mailbox: str = "") -> str | None:
    return default_signer().unsubscribe_mailto(campaign_id, subscriber_id, mailbox)


def verify(token: str) -> tuple[str, tuple[int, ...]]:
    """("unsubscribe", (campaign_id, subscriber_id)), ("preferences", (subscriber_id,)),
    ("view", (campaign_id, subscriber_id)) or ("confirm", (subscriber_id, list_id, issued_ms));
    BadToken when forged or altered."""
    return default_signer().verify(token)
