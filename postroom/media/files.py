"""Files for attachments: an allow-list of types, each told by its name and checked by
its first bytes where the format has a signature; no Django, no database (its refusals
are translated through the mail core's hook, postroom.mail.language).

The type a browser or script claims is not trusted: it is read from the file
name's extension, and a file whose bytes plainly are something else (an .exe
renamed .pdf) is refused, since recipients' mail clients open by extension.
"""

from dataclasses import dataclass

from postroom.errors import InvalidInput
from postroom.mail.language import gettext

_ZIP = b"PK\x03\x04"
# extension → (content type, signature the bytes must start with, or b"" for text)
ALLOWED: dict[str, tuple[str, bytes]] = {
    "pdf": ("application/pdf", b"%PDF-"),
    "txt": ("text/plain", b""),
    "csv": ("text/csv", b""),
    "ics": ("text/calendar", b""),
    "zip": ("application/zip", _ZIP),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", _ZIP),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", _ZIP),
    "pptx": ("application/vnd.openxmlformats-officedocument.presentationml.presentation", _ZIP),
    "odt": ("application/vnd.oasis.opendocument.text", _ZIP),
    "ods": ("application/vnd.oasis.opendocument.spreadsheet", _ZIP),
    "jpg": ("image/jpeg", b"\xff\xd8\xff"),
    "jpeg": ("image/jpeg", b"\xff\xd8\xff"),
    "png": ("image/png", b"\x89PNG\r\n\x1a\n"),
    "gif": ("image/gif", b"GIF8"),
}


@dataclass(frozen=True)
class Checked:
    content_type: str


def check(filename: str, data: bytes, max_bytes: int) -> Checked:
    """The file's content type; InvalidInput if its name, size or bytes are refused."""
    if len(data) > max_bytes:
        raise too_big(len(data), max_bytes)
    if not data:
        raise InvalidInput(gettext("the file is empty"))
    extension = filename.rpartition(".")[2].lower() if "." in filename else ""
    if extension not in ALLOWED:
        names = ", ".join(f".{e}" for e in ALLOWED)
        raise InvalidInput(
            gettext("%(name)s: files of this type are not accepted (use %(types)s)")
            % {"name": repr(filename), "types": names}
        )
    content_type, signature = ALLOWED[extension]
    if signature and not data.startswith(signature):
        raise InvalidInput(
            gettext("%(name)s is not a .%(extension)s file (its content says otherwise)")
            % {"name": repr(filename), "extension": extension}
        )
    if not signature and b"\x00" in data[:8192]:
        raise InvalidInput(
            gettext("%(name)s is not a text file (it holds binary data)") % {"name": repr(filename)}
        )
    return Checked(content_type)


def too_big(size: int, max_bytes: int) -> InvalidInput:
    """The refusal of a file over the limit, before or after it is read."""
    return InvalidInput(
        gettext("the file is %(size)s bytes: at most %(most)s")
        % {"size": f"{size:,}", "most": f"{max_bytes:,}"}
    )
