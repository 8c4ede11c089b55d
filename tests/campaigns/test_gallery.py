"""The layouts gallery: every stock layout is a valid layout, and a campaign in it passes
SpamAssassin (Debian's `spamassassin`, its shipped rules, local tests only: no network)
well below the score at which it calls a message spam. How they look on a phone and a
desktop: tests/browser/test_layout_gallery.py."""

import re
import shutil
import subprocess
from dataclasses import replace

import pytest

from postroom.campaigns import gallery, layouts
from postroom.mail.compose import compile_campaign
from postroom.tracking.links import default_signer
from tests.campaigns.samples import READER, spec

KEYS = [entry.key for entry in gallery.GALLERY]


def spam_score(message: bytes) -> tuple[float, float, str]:
    """(score, threshold, rules hit) as SpamAssassin reports them."""
    if shutil.which("spamassassin") is None:
        pytest.fail("spamassassin not found: apt-get install spamassassin", pytrace=False)
    out = subprocess.run(
        ["spamassassin", "-L", "-t"], input=message, capture_output=True, timeout=120, check=True
    ).stdout.decode(errors="replace")
    status = re.search(r"^X-Spam-Status: \w+, score=(-?[\d.]+) required=([\d.]+)(.*)$", out, re.M)
    assert status is not None, out[:2000]
    return float(status[1]), float(status[2]), status[3].strip()


def test_the_gallery_has_the_four_kinds_of_layout():
    assert set(KEYS) >= {"newsletter", "announcement", "digest", "plain"}


@pytest.mark.parametrize("key", KEYS)
def test_a_gallery_layout_passes_every_check_a_saved_layout_must(db, key):
    entry = gallery.stock(key)
    saved = layouts.create_layout(f"Mine: {entry.name}", entry.html)
    preview = layouts.preview_layout(saved.html)
    assert 'name="viewport"' in preview
    assert "@media" in preview or "max-width" in preview  # narrows on a phone
    for link in ("/u/", "/p/", "/v/"):  # unsubscribe, preferences, view in browser
        assert link in preview, link


def test_a_campaign_in_each_gallery_layout_is_far_from_spam(capsys):
    scores = {}
    for key in KEYS:
        message = compile_campaign(spec(gallery.stock(key).html), default_signer()).build(READER)
        assert b"\nList-Unsubscribe: " in message.data
        scores[key] = spam_score(message.data)
    # The check can fail: an all-caps, image-only shout with no words scores far higher.
    shout = replace(
        spec(""),
        subject="FREE MONEY!!! ACT NOW!!! LIMITED OFFER",
        body='<p><a href="https://example.org/win"><img src="https://example.org/win.jpg"></a></p>'
        "<p>CLICK HERE NOW TO CLAIM YOUR FREE CASH PRIZE!!! 100% GUARANTEED!!!</p>",
    )
    loud = spam_score(compile_campaign(shout, default_signer()).build(READER).data)
    with capsys.disabled():
        print("\nSpamAssassin:", {k: v[0] for k, v in scores.items()}, "shout:", loud[0])
    for key, (score, threshold, rules) in scores.items():
        assert score < threshold - 2, f"{key}: {score} ({rules})"
    assert loud[0] > max(score for score, _, _ in scores.values()) + 2, loud
