"""The bytes of one transactional message: headers, text and HTML parts, attachments.

Assembled from the campaigns' MIME pieces (postroom.mail.mime: folding,
encoded-words, punycode, the smallest correct transfer encoding) in about
10 µs, where the stdlib `email` package took 1.2 ms a receipt here: at a shop's
rate that was a worker's core, taken from the web server on a small machine
(bench/tx.py). No List-Unsubscribe: a receipt is not bulk mail;
`Auto-Submitted` keeps vacation replies from answering it (RFC 3834).
"""

import secrets
from dataclasses import dataclass

from postroom.mail import attachments, mime
from postroom.mail.attachments import Part, guess_type
from postroom.mail.content import raw_text_is_ascii
from postroom.mail.mime import CRLF

__all__ = ["Content", "Part", "build", "guess_type", "new_message_id"]


@dataclass(frozen=True)
class Content:
    """What a stored message says; plain data, so building needs no database."""

    from_email: str
    from_name: str
    to_email: str
    to_name: str
    subject: str
    html: str
    text: str
    message_id: str
    headers: dict[str, str]
    attachments: tuple[Part, ...] = ()


def new_message_id(from_email: str) -> str:
    """A Message-ID fixed when the request is accepted, so a retry is the same message."""
    domain = mime.ascii_domain(from_email.rpartition("@")[2] or "localhost")
    return f"<tx.{secrets.token_hex(12)}@{domain}>"


def needs_smtputf8(email: str) -> bool:
    return not email.rpartition("@")[0].isascii()


def build(content: Content) -> bytes:
    """The message as CRLF bytes; HeaderError if a value cannot be a header (checked before)."""
    sender = mime.mailbox(content.from_email, content.from_name)
    to = mime.mailbox(content.to_email, content.to_name)
    head = (
        mime.date_header()
        + mime.address_header("From", sender)
        + mime.address_header("To", to)
        + mime.unstructured("Subject", mime.clean_subscriber_value(content.subject))
        + f"Message-ID: {content.message_id}{CRLF}"
        + f"Auto-Submitted: auto-generated{CRLF}"
        + "".join(mime.custom_header(name, value) for name, value in content.headers.items())
        + f"MIME-Version: 1.0{CRLF}"
    )
    utf8 = sender.needs_smtputf8 or to.needs_smtputf8
    body = _body(content, _boundary())
    if content.attachments:
        parts = [body, *(attachments.encode(part) for part in content.attachments)]
        body = _multipart("mixed", _boundary(), parts)
    return (head.encode("utf-8") if utf8 else head.encode("ascii")) + body


def _boundary() -> str:
    return "==_postroom_" + secrets.token_hex(12)


def _text(subtype: str, text: str, boundary: str) -> bytes:
    html = subtype == "html" and raw_text_is_ascii(text)  # references fail in <style>/<script>
    encoding, data = mime.encode_body(text, boundary.encode("ascii"), html=html)
    head = f"Content-Type: text/{subtype}; charset=utf-8{CRLF}Content-Transfer-Encoding: {encoding}"
    return f"{head}{CRLF}{CRLF}".encode("ascii") + data


def _body(content: Content, boundary: str) -> bytes:
    """The text and HTML parts (an alternative when both), headers from Content-Type on."""
    if content.text and content.html:
        parts = [_text("plain", content.text, boundary), _text("html", content.html, boundary)]
        return _multipart("alternative", boundary, parts)
    if content.text:
        return _text("plain", content.text, boundary)
    return _text("html", content.html, boundary)


def _multipart(subtype: str, boundary: str, parts: list[bytes]) -> bytes:
    head = f'Content-Type: multipart/{subtype}; boundary="{boundary}"{CRLF}{CRLF}'
    delimiter = f"--{boundary}{CRLF}".encode("ascii")
    return (
        head.encode("ascii")
        + delimiter
        + (CRLF.encode("ascii") + delimiter).join(parts)
        + f"{CRLF}--{boundary}--{CRLF}".encode("ascii")
    )
