"""Signed per-recipient links: unsubscribe, preferences, view in browser, confirm.

A token names what it is for and whom it is about (`u.12.345.<signature>`) and
carries an HMAC-SHA256 of exactly that, keyed from the installation's secret key
and salted per purpose, so nobody can act for someone else or turn a "view" link into an
"unsubscribe" one. Tokens are computed for every recipient of every campaign,
so this is plain `hmac` (≈1 µs), not `django.core.signing` (which also
serialises and compresses).
"""

import base64
import hashlib
import hmac
import re
from functools import lru_cache
from urllib.parse import quote

from postroom.errors import InvalidInput
from postroom.mail.language import gettext

# kind code in the token -> (name, how many ids it carries)
# A confirmation token names a subscriber, a list and when it was issued (epoch
# milliseconds), so it expires without anything stored (tracking.confirmations checks).
KINDS = {
    "u": ("unsubscribe", 2),
    "p": ("preferences", 1),
    "v": ("view", 2),
    "c": ("confirm", 3),
    # Engagement (mail.engagement): an open names campaign and subscriber, a
    # click also the link's number in the campaign's stored URL list.
    "o": ("open", 2),
    "r": ("click", 3),
}
PATHS = {
    "u": "/u/{}/",
    "p": "/p/{}/",
    "v": "/v/{}/",
    "c": "/c/{}/",
    "o": "/o/{}.gif",
    "r": "/r/{}/",
}
_SIGNATURE_BYTES = 16  # 128 bits: unguessable, and keeps URLs short


_VERP_TAG = re.compile(r"b(\d{1,18})-(\d{1,18})-[0-9a-f]{20}")


class BadToken(InvalidInput):
    """A link token that was forged, altered, truncated or is not ours."""


@lru_cache(maxsize=8)
def _key(secret_key: str) -> bytes:
    # A key of its own, so link signatures never double as any other signature made
    # with the secret key. The salt names the module's first home: links already sent
    # must stay valid.
    return hashlib.sha256(b"postroom.tracking.links\0" + secret_key.encode()).digest()


class LinkSigner:
    """Makes and checks tokens and URLs for one secret key and one public base URL."""

    def __init__(self, secret_key: str, base_url: str, unsubscribe_mailbox: str = "") -> None:
        self._keyed = hmac.new(_key(secret_key), digestmod=hashlib.sha256)
        self.base_url = base_url.rstrip("/")
        self.unsubscribe_mailbox = unsubscribe_mailbox
        # Distinguishes Message-IDs of two installations sending from one domain.
        # Hex, so it is always a plain lowercase word a bounce's Message-ID matches.
        mac = self._keyed.copy()
        mac.update(b"message-id")
        self.install_tag = mac.hexdigest()[:8]

    def signature(self, payload: str) -> str:
        """The signature part of a token for `payload`."""
        # A copy of an HMAC already keyed skips the key set-up, and unlike the
        # one-shot hmac.digest() it keeps the GIL, so the worker's sending
        # thread does not get to cut in several times per message.
        mac = self._keyed.copy()
        mac.update(payload.encode("ascii"))
        digest = mac.digest()[:_SIGNATURE_BYTES]
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

    def token(self, kind: str, *ids: int) -> str:
        name, count = KINDS[kind]
        if len(ids) != count or any(not isinstance(i, int) or i < 0 for i in ids):
            raise ValueError(f"a {name} token takes {count} non-negative ids")
        payload = kind + "." + ".".join(map(str, ids))
        return f"{payload}.{self.signature(payload)}"

    def verify(self, token: str) -> tuple[str, tuple[int, ...]]:
        """(kind name, ids) of a genuine token; BadToken for anything else."""
        payload, _, signature = token.rpartition(".")
        kind, *raw_ids = payload.split(".")
        if kind not in KINDS or len(raw_ids) != KINDS[kind][1]:
            raise BadToken(gettext("this link is not valid"))
        if not all(raw.isdigit() and raw.isascii() and len(raw) < 20 for raw in raw_ids):
            raise BadToken(gettext("this link is not valid"))
        if not hmac.compare_digest(signature, self.signature(payload)):
            raise BadToken(gettext("this link is not valid or was altered"))
        return KINDS[kind][0], tuple(int(raw) for raw in raw_ids)

    def verp_tag(self, campaign_id: int, subscriber_id: int) -> str:
        """`b<campaign>-<subscriber>-<hex>`: the per-recipient part of a VERP return path.
        Lowercase hex, because servers on the way may change an address's case."""
        mac = self._keyed.copy()
        mac.update(f"verp.{int(campaign_id)}.{int(subscriber_id)}".encode("ascii"))
        return f"b{int(campaign_id)}-{int(subscriber_id)}-{mac.hexdigest()[:20]}"

    def verp_ids(self, tag: str) -> tuple[int, int] | None:
        """(campaign, subscriber) of a genuine VERP tag, else None."""
        match = _VERP_TAG.fullmatch(tag.lower())
        if match is None:
            return None
        ids = int(match.group(1)), int(match.group(2))
        return ids if hmac.compare_digest(self.verp_tag(*ids), tag.lower()) else None

    def url(self, kind: str, *ids: int) -> str:
        return self.base_url + PATHS[kind].format(self.token(kind, *ids))

    def unsubscribe_url(self, campaign_id: int, subscriber_id: int) -> str:
        return self.url("u", campaign_id, subscriber_id)

    def preferences_url(self, subscriber_id: int) -> str:
        return self.url("p", subscriber_id)

    def view_url(self, campaign_id: int, subscriber_id: int) -> str:
        return self.url("v", campaign_id, subscriber_id)

    def confirm_url(self, subscriber_id: int, list_id: int, issued_ms: int) -> str:
        return self.url("c", subscriber_id, list_id, issued_ms)

    def unsubscribe_mailto(
        self, campaign_id: int, subscriber_id: int, mailbox: str = ""
    ) -> str | None:
        """`mailto:` for List-Unsubscribe: the token travels in the subject line."""
        return self.unsubscribe_urls(campaign_id, subscriber_id, mailbox)[1]

    def unsubscribe_urls(
        self, campaign_id: int, subscriber_id: int, mailbox: str = ""
    ) -> tuple[str, str | None]:
        """(https URL, `mailto:` URL or None) from one signature: every message carries both."""
        token = self.token("u", campaign_id, subscriber_id)
        url = self.base_url + PATHS["u"].format(token)
        mailbox = self.unsubscribe_mailbox or mailbox
        if not mailbox:
            return url, None
        return url, f"mailto:{quote(mailbox, safe='@+')}?subject=unsubscribe%20{token}"
