"""One record of a file into a clean contact, or a rejection with a specific reason.

No database here: this is the pure, fast part of the pipeline. Repairs happen
only when the intent is unambiguous (`Jane <jane@x.org>`, `mailto:jane@x.org`)
and are always reported.
"""

import json
import re
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii as _json_string  # C, what dumps uses
from typing import NamedTuple

from postroom.audience.emails import InvalidEmail, email_hash, normalize_email
from postroom.imports.detect import DELIMITERS, Layout
from postroom.imports.reader import Record

RAW_LIMIT = 500  # characters of a bad row kept in the report
MAX_NAME = 255

# `Jane Doe <jane@x.org>`, `"Doe, Jane" <jane@x.org>`, `<jane@x.org>`.
_DISPLAY_FORM = re.compile(r'\A\s*(?:"([^"<>@]*)"|([^"<>@]*?))\s*<([^<>\s]+)>\s*\Z')
_MAILTO = re.compile(r"\Amailto:([^?\s]+)\Z", re.IGNORECASE)


class Contact(NamedTuple):
    """A clean row. A tuple: built in a third of a dataclass's time and passed
    between processes as a plain tuple (see `pack`)."""

    line: int
    email: str
    name: str
    attributes_json: str  # JSON text, made here, off the writing process's back
    email_hash: str
    repair: str = ""  # what was repaired, for the report
    raw: str = ""

    @property
    def attributes(self) -> dict:
        return json.loads(self.attributes_json)

    def pack(self) -> tuple:
        """A plain tuple: ten times cheaper than the object to pickle between processes."""
        return tuple(self)

    @classmethod
    def unpack(cls, fields: tuple) -> "Contact":
        return tuple.__new__(cls, fields)


_new_tuple = tuple.__new__  # Contact without NamedTuple's Python-level __new__


@dataclass(slots=True)
class Rejection:
    line: int
    raw: str
    reason: str


class RowParser:
    """Turns records into Contacts or Rejections for one layout."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.width = len(layout.columns)
        self.email_index = layout.email_column
        self.name_index = _index(layout.mapping, "name")
        self.first_index = _index(layout.mapping, "first_name")
        self.last_index = _index(layout.mapping, "last_name")
        # first_name and last_name are also kept as attributes for templates.
        self.attributes = [
            (i, m[5:] if m.startswith("attr:") else m)
            for i, m in enumerate(layout.mapping)
            if m.startswith("attr:") or m in ("first_name", "last_name")
        ]
        self.other_delimiters = [d for d in DELIMITERS if d != layout.delimiter]
        # Each key once: the JSON text is joined from pre-encoded keys (exactly what
        # json.dumps writes, at a third of its cost). Two columns with one key
        # need the dict's last-wins merge, so they take json.dumps.
        keys = [key for _, key in self.attributes]
        self.json_keys = (
            [(i, _json_string(key) + ": ") for i, key in self.attributes]
            if len(set(keys)) == len(keys)
            else None
        )

    def parse(self, record: Record) -> Contact | Rejection:
        cells = record.cells
        if record.problem:
            return Rejection(record.line, "", record.problem)
        width = self.width
        count = len(cells)
        if count < width:
            cells = cells + [""] * (width - count)
        elif count > width and any(c.strip() for c in cells[width:]):
            return Rejection(
                record.line,
                _raw(self.layout.delimiter.join(cells)),
                f"the row has {count} fields but the header has {width}: "
                f"a value may contain an unquoted {_shown(self.layout.delimiter)}",
            )
        raw_email = cells[self.email_index]
        try:
            email = normalize_email(raw_email)
            repair = display_name = ""
        except InvalidEmail as exc:
            repaired = self._repair(raw_email)
            if repaired is None:
                return Rejection(record.line, _raw(raw_email), self._reason(raw_email, exc))
            email, display_name, repair = repaired
        return _new_tuple(
            Contact,
            (
                record.line,
                email,
                self._name(cells) or display_name,
                self._attributes_json(cells),
                email_hash(email),
                repair,
                raw_email if len(raw_email) <= RAW_LIMIT else _raw(raw_email),
            ),
        )

    def _attributes_json(self, cells: list[str]) -> str:
        """The non-blank attribute cells as JSON text, byte for byte what json.dumps gives."""
        if self.json_keys is None:
            attributes = {}
            for i, key in self.attributes:
                value = cells[i].strip()
                if value:
                    attributes[key] = value
            return json.dumps(attributes)
        parts = [
            key + _json_string(value) for i, key in self.json_keys if (value := cells[i].strip())
        ]
        return "{" + ", ".join(parts) + "}"

    def _name(self, cells: list[str]) -> str:
        if self.name_index is not None:
            name = cells[self.name_index].strip()
            if name:
                return name[:MAX_NAME]
        first = cells[self.first_index].strip() if self.first_index is not None else ""
        last = cells[self.last_index].strip() if self.last_index is not None else ""
        if first and last:
            return f"{first} {last}"[:MAX_NAME]
        return (first or last)[:MAX_NAME]

    def _repair(self, raw: str) -> tuple[str, str, str] | None:
        """(address, display name, note) when the value holds one address unambiguously."""
        value = raw.strip()
        match = _DISPLAY_FORM.match(value)
        if match:
            display = (match.group(1) if match.group(1) is not None else match.group(2)).strip()
            candidate, note = match.group(3), "took the address out of the display-name form"
        else:
            match = _MAILTO.match(value)
            if not match:
                return None
            display, candidate, note = "", match.group(1), "removed the mailto: prefix"
        try:
            email = normalize_email(candidate)
        except InvalidEmail:
            return None
        return email, display[:MAX_NAME], f"{note}: {email}"

    def _reason(self, raw: str, exc: InvalidEmail) -> str:
        if not raw.strip():
            return "no email address"
        for d in DELIMITERS:
            head = raw.split(d, 1)[0]
            if d in raw and "@" in head and _valid(head):
                shown, own = _shown(d), _shown(self.layout.delimiter)
                hint = f"this field contains {shown} — the file seems to be separated by {shown}"
                if d != self.layout.delimiter:
                    return f"{hint}, not {own}: import it with that delimiter"
                return f"{hint}: a whole row was quoted into one field"
        return f"not a valid email address: {exc.detail}"


def _valid(value: str) -> bool:
    try:
        normalize_email(value)
    except InvalidEmail:
        return False
    return True


def _index(mapping: list[str], field: str) -> int | None:
    return mapping.index(field) if field in mapping else None


def _shown(delimiter: str) -> str:
    return "tab" if delimiter == "\t" else f"'{delimiter}'"


def _raw(value: str) -> str:
    return value if len(value) <= RAW_LIMIT else value[:RAW_LIMIT] + "…"
