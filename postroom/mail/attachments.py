"""Attached files as MIME parts: base64, named by file name (RFC 2231 when it must be).

Shared by transactional messages (postroom.transactional.message) and campaigns
(mime.MessageTemplate encodes a campaign's files once, for every recipient).
"""

import binascii
import mimetypes
import re
import urllib.parse
from dataclasses import dataclass

from postroom.mail.errors import HeaderError
from postroom.mail.language import gettext
from postroom.mail.mime import CRLF, check_campaign_value

# At most this much attached to one message, all files together: providers refuse
# far larger messages (25 MB at most for the big mailbox providers, after base64).
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
# RFC 2045's type/subtype, tokens only: the value becomes a header line.
_MIME_TYPE = re.compile(r"[A-Za-z0-9!#$&^_.+-]{1,64}/[A-Za-z0-9!#$&^_.+-]{1,64}")


@dataclass(frozen=True)
class Part:
    filename: str
    content_type: str
    data: bytes


def guess_type(filename: str, given: str = "") -> str:
    """`given` when it is a MIME type (type/subtype, nothing more), else guessed from the name."""
    if _MIME_TYPE.fullmatch(given):
        return given.lower()
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"


def check_files(names_and_sizes: list[tuple[str, int]]) -> None:
    """HeaderError unless every name is a plain one-line file name and all fit the limit."""
    total = 0
    for name, size in names_and_sizes:
        if not name or "/" in name or "\\" in name:
            raise HeaderError(
                gettext("attachment name %(name)s: give a plain file name") % {"name": repr(name)}
            )
        check_campaign_value(name, gettext("an attachment name"))
        total += size
    if total > MAX_ATTACHMENT_BYTES:
        raise HeaderError(
            gettext("attachments of %(size)s bytes: at most %(most)s in one message")
            % {"size": f"{total:,}", "most": f"{MAX_ATTACHMENT_BYTES:,}"}
        )


def encode(part: Part) -> bytes:
    """The part's headers and base64 body (CRLF lines), without a boundary line."""
    data = binascii.b2a_base64(part.data, newline=False)
    lines = b"\r\n".join(data[i : i + 76] for i in range(0, len(data), 76))
    head = (
        f"Content-Type: {guess_type(part.filename, part.content_type)};"
        f"{_parameter('name', part.filename)}{CRLF}"
        f"Content-Disposition: attachment;{_parameter('filename', part.filename)}{CRLF}"
        f"Content-Transfer-Encoding: base64{CRLF}{CRLF}"
    )
    return head.encode("ascii") + lines


def _parameter(name: str, value: str) -> str:
    """`name="value"` on a folded line of its own; RFC 2231 (UTF-8, in pieces of at most
    60 characters) for a value that is not ASCII or would make the line long."""
    if value.isascii() and len(value) <= 60:
        quoted = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'{CRLF} {name}="{quoted}"'
    rest, pieces = urllib.parse.quote(value, safe=""), []
    while rest:
        cut = min(60, len(rest))
        escape = rest.rfind("%", max(0, cut - 2), cut)  # never cut a %XX in two
        if escape >= 0 and cut < len(rest):
            cut = escape
        pieces.append(rest[:cut])
        rest = rest[cut:]
    pieces[0] = "utf-8''" + pieces[0]
    return ";".join(f"{CRLF} {name}*{i}*={piece}" for i, piece in enumerate(pieces))
