"""A transactional message's bytes, read back by the stdlib parser as a mail client would."""

import email
from email import policy

import pytest

from postroom.mail.errors import HeaderError
from postroom.transactional import message


def content(**fields) -> message.Content:
    values = {
        "from_email": "shop@example.org",
        "from_name": "Shop, Inc.",
        "to_email": "ada@example.net",
        "to_name": "",
        "subject": "Order 12",
        "html": "<p>Thanks for order <strong>12</strong>.</p>",
        "text": "Thanks for order 12.",
        "message_id": "<tx.1@example.org>",
        "headers": {},
    }
    values.update(fields)
    return message.Content(**values)


def parsed(data: bytes) -> email.message.EmailMessage:
    found = email.message_from_bytes(data, policy=policy.default)
    assert all(not part.defects for part in found.walk()), [p.defects for p in found.walk()]
    assert all(len(line) <= 998 for line in data.split(b"\r\n"))
    assert b"\n" not in data.replace(b"\r\n", b"")  # CRLF line ends only
    return found


def test_a_receipt_has_both_parts_its_headers_and_no_list_unsubscribe():
    mail = parsed(message.build(content(headers={"X-Order": "12"})))
    assert (mail["From"], mail["To"], mail["Subject"]) == (
        '"Shop, Inc." <shop@example.org>',
        "ada@example.net",
        "Order 12",
    )
    assert mail["Message-ID"] == "<tx.1@example.org>" and mail["X-Order"] == "12"
    assert mail["Auto-Submitted"] == "auto-generated" and mail["List-Unsubscribe"] is None
    assert mail.get_content_type() == "multipart/alternative"
    assert mail.get_body(("plain",)).get_content().strip() == "Thanks for order 12."
    assert "<strong>12</strong>" in mail.get_body(("html",)).get_content()


def test_names_subjects_and_bodies_in_any_script_read_back_the_same():
    mail = parsed(
        message.build(
            content(
                to_email="bjørn@exämple.net",
                to_name="Bjørn Ødegård",
                subject="Ordre nr. 12 — takk, 谢谢",
                text="Takk — ære, 谢谢.",
                html="<p>Takk — ære</p><style>p::after { content: '谢' }</style>",
            )
        )
    )
    assert str(mail["To"]) == "Bjørn Ødegård <bjørn@xn--exmple-cua.net>"
    assert mail["Subject"] == "Ordre nr. 12 — takk, 谢谢"
    assert mail.get_body(("plain",)).get_content().strip() == "Takk — ære, 谢谢."
    # Non-ASCII in <style> stays as it is: character references mean nothing there.
    assert "content: '谢'" in mail.get_body(("html",)).get_content()


def test_a_plain_or_an_html_message_is_a_single_part():
    plain = parsed(message.build(content(html="")))
    assert plain.get_content_type() == "text/plain" and "order 12" in plain.get_content()
    html = parsed(message.build(content(text="")))
    assert html.get_content_type() == "text/html" and "<strong>" in html.get_content()


def test_attachments_keep_their_names_types_and_bytes():
    long_name = "facture — été " + "x" * 100 + ".pdf"
    parts = (
        message.Part(long_name, "application/pdf", b"%PDF-1.7\x00\xff" * 50),
        message.Part('say "hi".txt', "", b"hi\n"),
        message.Part("data.bin", "text/plain\r\nBcc: x@example.net", b"\x01"),
    )
    mail = parsed(message.build(content(attachments=parts)))
    assert mail.get_content_type() == "multipart/mixed"
    assert mail.get_body(("plain",)).get_content().strip() == "Thanks for order 12."
    found = [(a.get_filename(), a.get_content_type()) for a in mail.iter_attachments()]
    assert found == [
        (long_name, "application/pdf"),
        ('say "hi".txt', "text/plain"),
        ("data.bin", "application/octet-stream"),  # not a MIME type: guessed, never a header
    ]
    assert next(mail.iter_attachments()).get_content() == b"%PDF-1.7\x00\xff" * 50
    assert mail["Bcc"] is None


def test_a_stored_value_that_cannot_be_a_header_is_refused():
    with pytest.raises(HeaderError):
        message.build(content(to_email="not an address"))
    with pytest.raises(HeaderError):
        message.build(content(headers={"Content-Type": "text/plain"}))
