"""Every campaign message stays byte for byte what it was when these digests were taken.

The build path is tuned for speed (slots, pre-encoded constant lines, one
render per recipient); none of that may change a single byte a reader or a
DKIM verifier sees. So a fixed corpus — the benchmark's newsletter, tracking
on, quoted-printable soft breaks falling right at slot boundaries, lines past
998, non-ASCII names and addresses, values that force base64 or the full
render, a recipient whose header cannot be built — is built here with the
clock, the MIME boundary and the DKIM key fixed, and each message (unsigned,
and signed with a 1024-bit test key) is compared with the SHA-256 stored in
golden/messages.json, written by the code as it was before the speed work.

After an intended change of the bytes: POSTROOM_WRITE_GOLDEN=1 rewrites the file
(review the diff: every changed digest is a message that changed).
"""

import hashlib
import json
import os
import secrets
import sys
from pathlib import Path

import dkim as dkimpy
import pytest

from postroom.mail import mime
from postroom.mail.compose import CampaignSpec, Recipient, compile_campaign
from postroom.mail.dkim import Signer
from postroom.mail.errors import RenderError
from postroom.mail.links import LinkSigner

HERE = Path(__file__).parent / "golden"
DIGESTS = HERE / "messages.json"
KEY_FILE = HERE / "dkim-test-key.pem"  # a test key, published nowhere
NOW = 1_700_000_000
DATE = "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
LINKS = LinkSigner("golden-secret", "https://news.example.com", "")

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from render import make_body  # noqa: E402 - bench/render.py: the benchmark's newsletter

NAMES = [
    "Ada Lovelace",
    "",
    "Zoë Ångström",
    "José Müller-Lüdenscheidt",
    "日本語の名前です",
    "Ann\r\nBcc: x@example.com",
    "=?utf-8?b?eA==?=",
    "trailing space ",
    "a" * 300,
    "word " * 40,
    'O\'Brien "Bob" <b>&amp;</b>',
    "x" * 70,
    "é" * 600,
    "= = =",
    "Ünïcödé\twith tab",
]
EMAILS = ["ada@example.com", "zoë@exämple.org", "b.o+b@example.com", "u@bücher.example"]
ATTRIBUTES = [
    {},
    {"city": "Zürich"},
    {"first_name": "Al", "city": "x" * 90},
    {"city": "==" * 40, "first_name": " "},
    {"note": "line1\nline2\r\nline3", "first_name": "Émile"},
    {"city": "London", "first_name": "Ada", "last_name": "Lovelace"},
]
RECIPIENTS = [
    Recipient(
        subscriber_id=1000 + i,
        email=EMAILS[i % len(EMAILS)],
        name=name,
        attributes=ATTRIBUTES[i % len(ATTRIBUTES)],
    )
    for i, name in enumerate(NAMES)
] + [Recipient(subscriber_id=999, email="not an address@example.com", name="Refused")]

# Text whose slots land on quoted-printable soft-break columns (75, 76), after
# "=" and before trailing white space, on a dot line and on a line past 998.
BOUNDARY_TEXT = "".join(
    [f"{'x' * k}{{{{ subscriber.name }}}}{'y' * (80 - k)}\n" for k in range(68, 80)]
    + [
        "a=b {{ subscriber.first_name | default('friend') }} \n",
        "{{ subscriber.attributes.city }}\t\n",
        ".\n{{ subscriber.name }}\n.\n",
        "long " * 210 + "{{ subscriber.email }}\n",
        "café {{ subscriber.name }} naïve\n",
        "Unsubscribe: {{ unsubscribe_url }}",
    ]
)

SPECS = {
    "bench newsletter": dict(
        subject="Weekly news for {{ subscriber.name }}",
        from_email="news@example.org",
        body=make_body(10_000),
        body_format="markdown",
        list_name="news",
        list_id="news.example.org",
    ),
    "tracking, preheader, names": dict(
        subject="{{ subscriber.first_name | default('Friend') }}, your weekly news",
        from_email="news@example.com",
        from_name="Café Ñews",
        reply_to="editor@example.com",
        body=make_body(4_000),
        body_format="markdown",
        preheader="For {{ subscriber.first_name | default('you') }} in"
        " {{ subscriber.attributes.city | default('town') }}",
        list_name="Weekly news",
        track_opens=True,
        track_clicks=True,
    ),
    "soft breaks at slots": dict(
        subject="Static subject, no tags",
        from_email="news@example.com",
        body="<p>" + BOUNDARY_TEXT.replace("\n", "<br>\n") + "</p>",
        body_format="html",
        text_body=BOUNDARY_TEXT,
        layout_html="",
        list_name="Boundaries",
    ),
    "plain, verp, headers": dict(
        subject="Hello {{ subscriber.name }} from {{ list.name }}",
        from_email="news@example.com",
        body="Hi {{ subscriber.first_name }},\n\n" + "Plain text line. " * 70 + "\n",
        body_format="plain",
        headers={"X-Campaign": "golden", "X-Note": "é " * 50},
        envelope_from="bounces@example.com",
        verp=True,
        list_name="Plain",
    ),
    "utf-8 in style": dict(
        subject="Style {{ subscriber.name }}",
        from_email="news@example.com",
        body="<html><head><style>p::before { content: 'é'; }</style></head>"
        "<body><p>Hé {{ subscriber.name }} — {{ view_url }}</p></body></html>",
        body_format="html",
        text_body="Hé {{ subscriber.name }} {{ preferences_url }}",
        layout_html="",
        list_name="Style",
    ),
    "per-recipient logic": dict(
        subject="Logic",
        from_email="news@example.com",
        body="{% if subscriber.name %}Dear {{ subscriber.name }}{% else %}Hello{% endif %}"
        "{% for i in range(3) %} {{ i }}{% endfor %}\n\n" + make_body(1_000),
        body_format="markdown",
        list_name="Logic",
    ),
}


def _messages() -> dict[str, str]:
    """name → digest of every (campaign, recipient) message, unsigned and signed."""
    signer = Signer.from_file("example.org", "golden", str(KEY_FILE))
    out = {}
    for label, values in SPECS.items():
        compiled = compile_campaign(CampaignSpec(campaign_id=77, name=label, **values), LINKS)
        for recipient in RECIPIENTS:
            key = f"{label} / {recipient.subscriber_id}"
            try:
                built = compiled.build(recipient)
            except RenderError as exc:
                out[key] = f"RenderError: {exc}"
                continue
            signed = signer.sign(built.data, NOW)
            envelope = (
                f"{built.mail_from} {built.rcpt_to} {built.message_id} {built.needs_smtputf8}"
            )
            out[key] = hashlib.sha256(built.data).hexdigest()
            out[key + " signed"] = hashlib.sha256(signed).hexdigest()
            out[key + " envelope"] = envelope
    return out


@pytest.fixture
def fixed(monkeypatch):
    """The clock of the Date header and every random token (the MIME boundary) fixed."""
    counter = iter(range(10**6))
    monkeypatch.setattr(mime, "date_header", lambda: DATE)
    monkeypatch.setattr(secrets, "token_hex", lambda n=32: f"{next(counter):0{2 * n}x}")


def test_every_message_is_byte_for_byte_what_it_was(fixed):
    found = _messages()
    if os.environ.get("POSTROOM_WRITE_GOLDEN"):
        DIGESTS.write_text(json.dumps(found, indent=1, ensure_ascii=False) + "\n")
    expected = json.loads(DIGESTS.read_text())
    changed = [key for key in expected if found.get(key) != expected[key]]
    assert not changed, f"{len(changed)} messages changed, first: {changed[:5]}"
    assert found.keys() == expected.keys()


def test_the_corpus_covers_what_it_claims(fixed):
    """Both encodings of the text part, base64, the full render, lines starting with a dot
    and a refused header occur; every message verifies (dkimpy)."""
    signer = Signer.from_file("example.org", "golden", str(KEY_FILE))
    _, value = signer.dns_record()
    seen: set[bytes] = set()
    dotted: set[bool] = set()
    errors = 0
    for label, values in SPECS.items():
        compiled = compile_campaign(CampaignSpec(campaign_id=77, name=label, **values), LINKS)
        if label == "per-recipient logic":
            assert compiled.html_part is None
        else:
            assert compiled.html_part is not None and compiled.text_part is not None
        for recipient in RECIPIENTS:
            try:
                built = compiled.build(recipient)
            except RenderError:
                errors += 1
                continue
            data = built.data
            has_dots = data.startswith(b".") or b"\n." in data
            assert built.dotted or not has_dots  # never a dotted line the client skips
            if label == "bench newsletter" and recipient.subscriber_id == 1000:
                assert not built.dotted  # the usual message: the client need not look
            dotted.add(built.dotted)
            for cte in (b"7bit", b"quoted-printable", b"base64"):
                if b"Content-Transfer-Encoding: " + cte + b"\r\n" in data:
                    seen.add(cte)
            signed = signer.sign(data, NOW)
            assert dkimpy.verify(
                signed, dnsfunc=lambda q, timeout=5: value.encode(), minkey=1024
            ), f"{label} / {recipient.subscriber_id}"
    assert seen == {b"7bit", b"quoted-printable", b"base64"}
    assert dotted == {True, False}
    assert errors > 0  # the CR/LF name is refused, never sent
