"""The public builder: campaign + recipient -> the exact bytes, checked by parsing them back."""

import email
import email.header
import email.policy
import html as htmlmod

import pytest

from postroom.mail.compose import (
    BuiltMessage,
    CampaignSpec,
    Recipient,
    compile_campaign,
)
from postroom.mail.errors import HeaderError, RenderError, TemplateError
from postroom.mail.links import LinkSigner

LINKS = LinkSigner("compose-secret", "https://news.example.com")


def spec(**overrides) -> CampaignSpec:
    options = {
        "campaign_id": 7,
        "name": "Weekly",
        "subject": "Hello {{ subscriber.first_name | default('friend') }}",
        "from_email": "news@example.com",
        "from_name": "Example News",
        "body": "# News for {{ subscriber.name }}\n\nFrom {{ subscriber.attributes.city }}.",
        "list_name": "Weekly news",
        "list_id": "weekly.example.com",
    }
    options.update(overrides)
    return CampaignSpec(**options)


def parse(message: BuiltMessage) -> email.message.EmailMessage:
    if message.needs_smtputf8:
        return email.message_from_string(message.data.decode(), policy=email.policy.default)
    return email.message_from_bytes(message.data, policy=email.policy.default)


def parts(message: BuiltMessage) -> tuple[str, str]:
    text, html = parse(message).iter_parts()
    return (
        text.get_content().replace("\r\n", "\n"),
        html.get_content().replace("\r\n", "\n"),
    )


def to_name(message: BuiltMessage) -> str:
    """The To display name, decoded per RFC 2047 (see tests/campaigns/test_mime.py)."""
    lines = message.data.split(b"\r\n")
    start = next(i for i, line in enumerate(lines) if line.startswith(b"To: "))
    value = lines[start][4:]
    for line in lines[start + 1 :]:
        if not line.startswith(b" "):
            break
        value += line
    phrase = value.decode().rpartition(" <")[0]
    decoded = str(email.header.make_header(email.header.decode_header(phrase)))
    if decoded.startswith('"'):
        decoded = decoded[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return decoded


def escape(value: str) -> str:
    """HTML escaping as the templates do it, spelled out so the test states the exact output."""
    for char, entity in (
        ("&", "&amp;"),
        ("<", "&lt;"),
        (">", "&gt;"),
        ('"', "&#34;"),
        ("'", "&#39;"),
    ):
        value = value.replace(char, entity)
    return value


def test_the_exact_escaping_of_a_script_name():
    compiled = compile_campaign(spec(layout_html=""), LINKS)
    _, html = parts(compiled.build(Recipient(1, "a@example.org", '<script>alert("x")</script>')))
    assert html.startswith("<h1>News for &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</h1>")


HOSTILE = [
    Recipient(1, "eve@example.org", '<script>alert("x")</script> & <b>Eve</b>', {"city": "<img>"}),
    Recipient(2, "crlf@example.org", "Mallory\r\nBcc: victim@example.com", {"city": "A\r\nB"}),
    Recipient(3, "long@example.org", "L" * 5000, {"city": "C" * 20000}),
    Recipient(4, "rtl@example.org", "\u202eمحمد עברית\u202c", {"city": "القاهرة"}),
    Recipient(5, "emoji@example.org", "🦄 Zoë 👩‍👩‍👧", {"city": "🏙️"}),
    Recipient(6, "quote@example.org", 'O\'Brien "Jr" \\ {{ 7*7 }}', {"city": "{% raw %}"}),
]


@pytest.mark.parametrize("recipient", HOSTILE, ids=lambda r: r.email.split("@")[0])
def test_hostile_subscriber_data_is_escaped_and_headers_stay_intact(recipient):
    compiled = compile_campaign(spec(), LINKS)
    message = compiled.build(recipient)
    parsed = parse(message)

    # Headers: exactly the ones we set, none injected, values decode to the subscriber's.
    names = [name.lower() for name in parsed]
    assert "bcc" not in names and names.count("to") == 1 and names.count("subject") == 1
    clean_name = " ".join(recipient.name.split())
    assert to_name(message) == clean_name
    assert parsed["To"].addresses[0].addr_spec == recipient.email
    first_name = clean_name.split(" ")[0]
    assert parsed["Subject"] == f"Hello {first_name}"
    # CRLF only (the worker vouches for it to the SMTP client), no line over 998.
    assert b"\n" not in message.data.replace(b"\r\n", b"")
    assert b"\r" not in message.data.replace(b"\r\n", b"")
    assert max(len(line) for line in message.data.split(b"\r\n")) <= 998

    # Parts: text/plain then text/html, both UTF-8; HTML escaped, text verbatim.
    text_part, html_part = parsed.iter_parts()
    assert text_part.get_content_type() == "text/plain"
    assert html_part.get_content_type() == "text/html"
    assert text_part.get_content_charset() == html_part.get_content_charset() == "utf-8"
    text, html = parts(message)
    # Bodies travel with CRLF line ends: a subscriber's CR/LF arrives as a line break.
    name = recipient.name.replace("\r\n", "\n")
    escaped = escape(name).encode("ascii", "xmlcharrefreplace").decode()
    assert f'#111827;">News for {escaped}</h1>' in html
    assert htmlmod.unescape(html).count(f"News for {name}") == 1
    assert "<script>" not in html and "<img>" not in html and "<b>Eve" not in html
    assert f"News for {name}" in text
    assert f"From {recipient.attributes['city']}.".replace("\r\n", "\n") in text
    assert "49" not in text  # a template in subscriber data is data, not code


def test_every_message_has_valid_one_click_unsubscribe_headers():
    compiled = compile_campaign(spec(), LINKS)
    parsed = parse(compiled.build(Recipient(42, "ann@example.org", "Ann")))
    https, mailto = [url.strip().strip("<>") for url in parsed["List-Unsubscribe"].split(",")]
    assert https == LINKS.unsubscribe_url(7, 42)
    assert LINKS.verify(https.rstrip("/").rsplit("/", 1)[1]) == ("unsubscribe", (7, 42))
    assert mailto == f"mailto:news@example.com?subject=unsubscribe%20{LINKS.token('u', 7, 42)}"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed["List-Id"] == "Weekly news <weekly.example.com>"
    text, html = parts(compiled.build(Recipient(42, "ann@example.org", "Ann")))
    assert f'href="{https}"' in html
    assert f"Unsubscribe: {https}" in text


def test_message_ids_are_deterministic_and_unique_per_campaign_and_subscriber():
    first = compile_campaign(spec(), LINKS)
    again = compile_campaign(spec(), LINKS)  # e.g. after a crash and a restart
    ann = Recipient(1, "ann@example.org", "Ann")
    bob = Recipient(2, "bob@example.org", "Bob")
    assert first.build(ann).message_id == again.build(ann).message_id
    assert parse(first.build(ann))["Message-ID"] == first.build(ann).message_id
    other_campaign = compile_campaign(spec(campaign_id=8), LINKS)
    ids = {c.build(r).message_id for c in (first, other_campaign) for r in (ann, bob)}
    assert len(ids) == 4
    assert first.build(ann).message_id.endswith("@example.com>")


def test_the_envelope_uses_punycode_and_flags_smtputf8():
    compiled = compile_campaign(
        spec(from_email="news@bücher.example", envelope_from="bounces@bücher.example"), LINKS
    )
    plain = compiled.build(Recipient(1, "ann@exämple.org", "Ann"))
    assert plain.mail_from == "bounces@xn--bcher-kva.example"
    assert plain.rcpt_to == "ann@xn--exmple-cua.org"
    assert not plain.needs_smtputf8 and plain.data.isascii()
    assert parse(plain)["From"].addresses[0].domain == "xn--bcher-kva.example"
    utf8 = compiled.build(Recipient(2, "josé@exämple.org", "José"))
    assert utf8.needs_smtputf8
    assert utf8.rcpt_to == "josé@xn--exmple-cua.org"
    assert parse(utf8)["To"].addresses[0].addr_spec == "josé@xn--exmple-cua.org"


def test_a_broken_template_is_refused_with_every_problem_and_line():
    broken = spec(
        subject="Hi {{ subscriber.nickname }}",
        body="fine\n\nstill fine\n{{ coupon_code }}\n",
        text_body="line\n{% if %}",
        layout_html="<html>{{ content }}\n{{ ().__class__ }}</html>",
    )
    with pytest.raises(TemplateError) as caught:
        compile_campaign(broken, LINKS)
    found = {(p.field, p.line) for p in caught.value.problems}
    assert found == {("subject", 1), ("body", 4), ("text body", 2), ("layout", 2)}
    assert "body, line 4: unknown variable 'coupon_code'" in str(caught.value)


def test_campaign_fields_with_cr_lf_are_refused_when_compiling():
    with pytest.raises(HeaderError):
        compile_campaign(spec(subject="Hi\r\nBcc: x@example.com"), LINKS)
    with pytest.raises(HeaderError):
        compile_campaign(spec(from_name="News\nBcc: x@example.com"), LINKS)
    with pytest.raises(HeaderError):
        compile_campaign(spec(headers={"X-Tag": "a\r\nBcc: x@example.com"}), LINKS)
    with pytest.raises(HeaderError):
        compile_campaign(spec(headers={"Reply-To": "x@example.com"}), LINKS)
    with pytest.raises(HeaderError):
        compile_campaign(spec(from_email="not an address"), LINKS)


def test_custom_headers_and_reply_to_are_sent():
    compiled = compile_campaign(
        spec(reply_to="editor@example.com", headers={"X-Campaign": "spring-2025"}), LINKS
    )
    parsed = parse(compiled.build(Recipient(1, "ann@example.org", "Ann")))
    assert parsed["Reply-To"] == "editor@example.com"
    assert parsed["X-Campaign"] == "spring-2025"
    assert parsed["From"] == "Example News <news@example.com>"


def test_a_subject_rendered_with_cr_lf_is_folded_safely():
    compiled = compile_campaign(spec(subject="Hi {{ subscriber.name }}"), LINKS)
    parsed = parse(compiled.build(Recipient(1, "a@example.org", "A\r\nBcc: victim@example.com")))
    assert parsed["Subject"] == "Hi A Bcc: victim@example.com"
    assert parsed["Bcc"] is None


def test_a_template_that_fails_for_one_recipient_raises_render_error():
    compiled = compile_campaign(spec(body="{{ subscriber.attributes.n * 1000000000 }}"), LINKS)
    assert "3000" in parts(compiled.build(Recipient(1, "a@example.org", "A", {"n": 3})))[1]
    with pytest.raises(RenderError):
        compiled.build(Recipient(2, "b@example.org", "B", {"n": "x"}))
    with pytest.raises(RenderError):
        compiled.build(Recipient(3, "not-an-address", "C", {"n": 1}))


def test_the_text_part_is_derived_from_the_html_with_links_listed():
    body = "# Title\n\nRead [the story](https://x.test/story) now.\n\n- one\n- two"
    compiled = compile_campaign(spec(body=body), LINKS)
    text, _ = parts(compiled.build(Recipient(1, "a@example.org", "Ann")))
    assert text.startswith(
        "Title\n=====\n\nRead the story [1] now.\n\n- one\n- two\n\n[1] https://x.test/story\n"
    )
    assert f"Unsubscribe: {LINKS.unsubscribe_url(7, 1)}" in text
    assert f"View it in your browser: {LINKS.view_url(7, 1)}" in text


def test_a_hand_written_text_part_is_used_as_is_with_the_footer():
    compiled = compile_campaign(spec(text_body="Hi {{ subscriber.first_name }}!"), LINKS)
    text, _ = parts(compiled.build(Recipient(1, "a@example.org", "Ann Lee")))
    assert text.startswith("Hi Ann!\n\n--\n")
    mine = compile_campaign(spec(text_body="Bye: {{ unsubscribe_url }}"), LINKS)
    text, _ = parts(mine.build(Recipient(1, "a@example.org", "Ann Lee")))
    assert text == f"Bye: {LINKS.unsubscribe_url(7, 1)}"


def test_html_and_plain_formats():
    raw = compile_campaign(
        spec(
            body_format="html",
            body="<p class='x'>Hi <i>{{ subscriber.name }}</i></p>",
            layout_html="",
        ),
        LINKS,
    )
    text, html = parts(raw.build(Recipient(1, "a@example.org", "<Ann>")))
    assert html == "<p class='x'>Hi <i>&lt;Ann&gt;</i></p>"
    assert text.startswith("Hi <Ann>\n")
    plain = compile_campaign(
        spec(body_format="plain", body="Hi {{ subscriber.name }}\nhttps://x.test", layout_html=""),
        LINKS,
    )
    text, html = parts(plain.build(Recipient(1, "a@example.org", "<Ann>")))
    assert text.startswith("Hi <Ann>\nhttps://x.test\n")
    assert html == '<p>Hi &lt;Ann&gt;<br>\n<a href="https://x.test">https://x.test</a></p>'


def test_preview_renders_exactly_what_is_sent():
    compiled = compile_campaign(spec(preheader="Inside: {{ subscriber.attributes.city }}"), LINKS)
    ann = Recipient(1, "ann@example.org", "Ann Lee", {"city": "Lyon & Co"})
    subject, html, text = compiled.render_preview(ann)
    sent_text, sent_html = parts(compiled.build(ann))
    assert subject == "Hello Ann"
    assert sent_text == text
    assert sent_html == html.encode("ascii", "xmlcharrefreplace").decode()
    assert "Inside: Lyon &amp; Co" in html
    assert "<title>Hello Ann</title>" in html


def test_missing_subscriber_values_render_as_fallbacks_not_none():
    compiled = compile_campaign(spec(), LINKS)
    subject, html, text = compiled.render_preview(Recipient(1, "a@example.org", "", {}))
    assert subject == "Hello friend"
    assert "None" not in html and "None" not in text
    assert "From ." in text
