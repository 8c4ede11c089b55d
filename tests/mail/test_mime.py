"""The lean MIME builder, checked by parsing its output back with the stdlib email package."""

import email
import email.header
import email.policy
import re

import pytest

from postroom.mail import mime
from postroom.mail.errors import HeaderError

BOUNDARY = "==_postroom_test"


def parse(data: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(data, policy=email.policy.default)


def content(part: email.message.EmailMessage) -> str:
    # The parser keeps the wire's CRLF inside 7bit and quoted-printable parts.
    return part.get_content().replace("\r\n", "\n")


def display_name(data: bytes) -> str:
    """The To display name decoded per RFC 2047 6.2: whitespace between encoded-words is
    dropped (the `policy.default` parser keeps it, a CPython quirk, even for its own output)."""
    lines = data.split(b"\r\n")
    start = next(i for i, line in enumerate(lines) if line.startswith(b"To: "))
    unfolded = lines[start][4:]
    for line in lines[start + 1 :]:
        if not line.startswith(b" "):
            break
        unfolded += line
    phrase = unfolded.decode().rpartition(" <")[0]
    decoded = email.header.make_header(email.header.decode_header(phrase))
    value = str(decoded)
    if value.startswith('"') and value.endswith('"'):
        value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return value


def assert_wire_format(data: bytes) -> None:
    """CRLF only, no line over 998 bytes."""
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert b"\r" not in data.replace(b"\r\n", b"")
    assert max(len(line) for line in data.split(b"\r\n")) <= 998


def header_lines(data: bytes) -> list[bytes]:
    return data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")


def make_template(**overrides) -> mime.MessageTemplate:
    options = {
        "from_box": mime.mailbox("news@example.com", "Example News"),
        "list_id_header": mime.list_id("news.example.com", "News"),
        "boundary": BOUNDARY,
        "static_subject": None,
    }
    options.update(overrides)
    return mime.MessageTemplate(**options)


def build(template=None, name="Ann", address="ann@example.org", **overrides) -> bytes:
    options = {
        "to": mime.mailbox(address, mime.clean_subscriber_value(name)),
        "message_id": "<1.2.abc@example.com>",
        "list_unsubscribe_header": mime.list_unsubscribe(
            "https://x.test/u/tok/", "mailto:u@example.com?subject=unsubscribe%20tok"
        ),
        "text": "Hello\n",
        "html": "<p>Hello</p>\n",
        "subject": "Hi",
    }
    options.update(overrides)
    return (template or make_template()).build(**options)


def test_a_message_parses_back_part_by_part():
    data = build(text="Café ☕ text\n", html="<p>Café ☕ <b>html</b></p>\n", subject="Café ☕")
    assert_wire_format(data)
    assert data.isascii()
    message = parse(data)
    assert message.get_content_type() == "multipart/alternative"
    assert message["MIME-Version"] == "1.0"
    assert message["Subject"] == "Café ☕"
    assert message["From"] == "Example News <news@example.com>"
    assert message["To"] == "Ann <ann@example.org>"
    assert message["Message-ID"] == "<1.2.abc@example.com>"
    assert message["Date"].datetime is not None
    text, html = message.iter_parts()
    assert text.get_content_type() == "text/plain"
    assert text.get_content_charset() == "utf-8"
    assert content(text) == "Café ☕ text\n"
    assert html.get_content_type() == "text/html"
    assert html.get_content_charset() == "utf-8"
    # Non-ASCII in HTML travels as character references: same document, 7bit.
    assert html["Content-Transfer-Encoding"] == "7bit"
    assert content(html) == "<p>Caf&#233; &#9749; <b>html</b></p>\n"
    assert not message.defects and not text.defects and not html.defects


def test_the_list_headers_are_there():
    message = parse(build())
    assert message["List-Unsubscribe"] == (
        "<https://x.test/u/tok/>, <mailto:u@example.com?subject=unsubscribe%20tok>"
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["List-Id"] == "News <news.example.com>"
    assert message["Precedence"] == "bulk"


def test_long_and_hostile_subjects_are_folded_and_decode_intact():
    subjects = [
        "A plain subject " * 12,
        "مرحبا بالعالم — שלום עולם " * 6,
        "👩‍👩‍👧 family emoji " * 10,
        "x" * 2000,
        "=?utf-8?b?Zm9v?= looks encoded",
        '"quoted" <angle> (comment) \\ back',
    ]
    for subject in subjects:
        data = build(subject=subject)
        assert_wire_format(data)
        assert all(len(line) <= 78 for line in header_lines(data) if b"Subject" in line)
        assert parse(data)["Subject"] == " ".join(subject.split())


def test_cr_lf_in_a_subscriber_value_cannot_add_a_header():
    data = build(name="Eve\r\nBcc: victim@example.com", subject="Hi\r\nX-Evil: 1")
    message = parse(data)
    assert message["Bcc"] is None and message["X-Evil"] is None
    assert message["Subject"] == "Hi X-Evil: 1"
    assert message["To"].addresses[0].display_name == "Eve Bcc: victim@example.com"
    assert message["To"].addresses[0].addr_spec == "ann@example.org"


@pytest.mark.parametrize(
    "name",
    [
        'Ann "The Hammer" O\'Brien, Jr.',
        "Zoë Ünïcødé",
        "محمد عبد الله",
        "🦄 " * 100,
        "A" * 3000,
        "<script>alert(1)</script>",
        "=?utf-8?q?fake?=",
    ],
)
def test_display_names_decode_to_the_exact_unicode(name):
    data = build(name=name)
    assert_wire_format(data)
    assert display_name(data) == " ".join(name.split())
    address = parse(data)["To"].addresses[0]
    assert "".join(address.display_name.split()) == "".join(name.split())
    assert address.addr_spec == "ann@example.org"


def test_idn_domains_are_punycode_in_headers_and_envelope():
    box = mime.mailbox("josé@bücher.example", "José")
    assert box.envelope == "josé@xn--bcher-kva.example"
    assert box.needs_smtputf8
    ascii_box = mime.mailbox("info@bücher.example")
    assert ascii_box.envelope == "info@xn--bcher-kva.example"
    assert not ascii_box.needs_smtputf8


def test_a_non_ascii_local_part_gives_a_utf8_message():
    data = build(address="josé@bücher.example", name="José")
    assert not data.isascii()
    message = email.message_from_string(data.decode("utf-8"), policy=email.policy.default)
    assert message["To"].addresses[0].addr_spec == "josé@xn--bcher-kva.example"
    assert message["To"].addresses[0].display_name == "José"


def test_campaign_fields_with_cr_lf_are_refused():
    with pytest.raises(HeaderError, match="CR/LF"):
        mime.check_campaign_value("Hi\r\nBcc: x@example.com", "the subject")
    with pytest.raises(HeaderError):
        mime.custom_header("X-Tag", "a\nb")
    with pytest.raises(HeaderError):
        mime.list_id("news.example.com", "News\r\nBcc: x")


@pytest.mark.parametrize("name", ["From", "to", "Content-Type", "List-Unsubscribe", "DKIM-Foo"])
def test_custom_headers_cannot_override_reserved_ones(name):
    with pytest.raises(HeaderError, match="set by Postroom"):
        mime.custom_header(name, "x")


@pytest.mark.parametrize("name", ["X Bad", "X:Bad", "", "Ünï", "X\r\nY"])
def test_custom_header_names_must_be_valid(name):
    with pytest.raises(HeaderError, match="not a valid header name"):
        mime.custom_header(name, "x")


def test_custom_headers_are_encoded_and_kept():
    template = make_template(custom_headers=mime.custom_header("X-Campaign-Tag", "été 2025"))
    assert parse(build(template))["X-Campaign-Tag"] == "été 2025"


def test_bodies_use_the_cheapest_correct_encoding():
    assert mime.encode_body("plain ascii\nlines\n") == ("7bit", b"plain ascii\r\nlines\r\n")
    cte, body = mime.encode_body("mostly ascii with one é\n" * 5)
    assert cte == "quoted-printable" and b"=C3=A9" in body
    cte, body = mime.encode_body("Ελληνικά κείμενα παντού\n" * 5)
    assert cte == "base64"
    assert mime.encode_body("x" * 1200)[0] == "quoted-printable"  # a line over 998
    assert mime.encode_body("a\r\nb\rc\n") == ("7bit", b"a\r\nb\r\nc\r\n")


def test_a_body_containing_the_boundary_is_not_sent_7bit():
    text = f"a line\n--{BOUNDARY}\nContent-Type: text/html\n\nspoof\n"
    message = parse(build(text=text))
    parts = list(message.iter_parts())
    assert len(parts) == 2
    assert content(parts[0]) == text


@pytest.mark.parametrize(
    "text",
    [
        "trailing spaces   \nand tabs\t\n",
        ".\n..leading dots\nFrom the start\n",
        "long " * 500 + "\n",
        "= equals =3D and =\n",
        "mixed é " * 300,
        "日本語のテキスト\n" * 50,
        "",
    ],
)
def test_text_bodies_round_trip_exactly(text):
    data = build(text=text, html=text)
    assert_wire_format(data)
    text_part, html_part = parse(data).iter_parts()
    assert content(text_part) == text
    assert content(html_part) == text.encode("ascii", "xmlcharrefreplace").decode()


def test_without_charrefs_the_html_part_keeps_its_characters():
    template = make_template(html_charrefs=False)
    html = "<style>p::before { content: '→'; }</style><p>é</p>"
    html_part = list(parse(build(template, html=html)).iter_parts())[1]
    assert content(html_part) == html


def test_a_static_subject_is_encoded_once():
    template = make_template(static_subject="Weekly — news")
    data = template.build(
        to=mime.mailbox("a@example.org"),
        message_id="<x@example.com>",
        list_unsubscribe_header=mime.list_unsubscribe("https://x.test/u/t/", None),
        text="t",
        html="h",
    )
    message = parse(data)
    assert message["Subject"] == "Weekly — news"
    assert message["To"] == "a@example.org"
    assert message["List-Unsubscribe"] == "<https://x.test/u/t/>"
    assert "Reply-To" not in message


def test_reply_to_is_set_when_given():
    template = make_template(reply_to=mime.mailbox("editor@example.com", "The Editor"))
    assert parse(build(template))["Reply-To"] == "The Editor <editor@example.com>"


def test_message_ids_are_deterministic_and_distinct():
    first = mime.message_id(7, 42, "exämple.com", "tag")
    assert first == mime.message_id(7, 42, "exämple.com", "tag")
    assert first == "<7.42.tag@xn--exmple-cua.com>"
    assert re.fullmatch(r"<[^<>@\s]+@[^<>@\s]+>", first)
    others = {mime.message_id(c, s, "example.com", "tag") for c in (7, 8) for s in (42, 43)}
    assert len(others) == 4
    assert mime.message_id(7, 42, "example.com", "other") != mime.message_id(
        7, 42, "example.com", "tag"
    )


@pytest.mark.parametrize("address", ["no-at-sign", "a b@example.com", "a@", "@example.com"])
def test_unusable_addresses_are_refused(address):
    with pytest.raises(HeaderError):
        mime.mailbox(address)
