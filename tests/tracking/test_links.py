"""Signed per-recipient links: each one works for its recipient and purpose only."""

import pytest

from postroom.mail.links import BadToken, LinkSigner
from postroom.tracking import links

SIGNER = LinkSigner("a-secret", "https://news.example.com/")


def test_urls_point_at_the_public_paths():
    assert SIGNER.unsubscribe_url(7, 42).startswith("https://news.example.com/u/u.7.42.")
    assert SIGNER.preferences_url(42).startswith("https://news.example.com/p/p.42.")
    assert SIGNER.view_url(7, 42).startswith("https://news.example.com/v/v.7.42.")
    assert SIGNER.unsubscribe_url(7, 42).endswith("/")


def test_a_genuine_token_verifies_to_its_kind_and_ids():
    assert SIGNER.verify(SIGNER.token("u", 7, 42)) == ("unsubscribe", (7, 42))
    assert SIGNER.verify(SIGNER.token("p", 42)) == ("preferences", (42,))
    assert SIGNER.verify(SIGNER.token("v", 7, 42)) == ("view", (7, 42))


def test_tokens_are_deterministic_and_distinct_per_recipient_and_purpose():
    assert SIGNER.token("u", 7, 42) == SIGNER.token("u", 7, 42)
    tokens = {SIGNER.token(kind, c, s) for kind in "uv" for c in (7, 8) for s in (42, 43)}
    assert len(tokens) == 8


def altered_tokens(token: str) -> list[str]:
    kind, campaign, subscriber, signature = token.split(".")
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    return [
        f"{kind}.{campaign}.{int(subscriber) + 1}.{signature}",  # someone else
        f"{kind}.{int(campaign) + 1}.{subscriber}.{signature}",  # another campaign
        f"v.{campaign}.{subscriber}.{signature}",  # another purpose
        f"{kind}.{campaign}.{subscriber}.{flipped}",
        f"{kind}.{campaign}.{subscriber}.{signature[:-2]}",
        f"{kind}.{campaign}.{subscriber}.",
        f"{kind}.{campaign}.{subscriber}",
        f"{kind}.{campaign}.0{subscriber}.{signature}",
        f"{kind}.{campaign}.{subscriber}.{signature}.x",
        f"{kind}.{campaign}.-{subscriber}.{signature}",
        f"{kind}.{campaign}.٤٢.{signature}",
        "",
        "u",
        "x.1.2.abc",
    ]


@pytest.mark.parametrize("forged", altered_tokens(SIGNER.token("u", 7, 42)))
def test_forged_or_altered_tokens_are_refused(forged):
    with pytest.raises(BadToken):
        SIGNER.verify(forged)


def test_a_token_from_another_installation_is_refused():
    other = LinkSigner("another-secret", "https://news.example.com")
    with pytest.raises(BadToken):
        SIGNER.verify(other.token("u", 7, 42))


def test_the_mailto_address_carries_the_token():
    mailto = SIGNER.unsubscribe_mailto(7, 42, "news@example.com")
    assert mailto == f"mailto:news@example.com?subject=unsubscribe%20{SIGNER.token('u', 7, 42)}"
    configured = LinkSigner("a-secret", "https://x.test", "leave@example.com")
    assert configured.unsubscribe_mailto(7, 42, "news@example.com").startswith(
        "mailto:leave@example.com?"
    )
    assert SIGNER.unsubscribe_mailto(7, 42) is None


def test_the_module_functions_use_the_django_settings(settings):
    settings.SECRET_KEY = "settings-secret"
    settings.POSTROOM_BASE_URL = "https://mail.example.org"
    url = links.unsubscribe_url(3, 4)
    assert url.startswith("https://mail.example.org/u/u.3.4.")
    token = url.rstrip("/").rsplit("/", 1)[1]
    assert links.verify(token) == ("unsubscribe", (3, 4))
    assert links.verify(links.preferences_url(4).rstrip("/").rsplit("/", 1)[1]) == (
        "preferences",
        (4,),
    )
    assert links.view_url(3, 4).startswith("https://mail.example.org/v/v.3.4.")
    settings.SECRET_KEY = "rotated-secret"
    with pytest.raises(BadToken):
        links.verify(token)
