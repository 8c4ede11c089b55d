"""One record of a file into a clean contact, or a rejection with a specific reason.

No database here: this is the pure, fast part of the pipeline. Repairs happen
only when the intent is unambiguous (`Jane <jane@x.org>`, `mailto:jane@x.org`)
and are always reported.
"""

import csv
import ipaddress
import json
import re
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii as _json_string  # C, what dumps uses
from typing import NamedTuple

from postroom.audience.emails import InvalidEmail, email_hash, normalize_email
from postroom.imports import texts as T
from postroom.imports import tools
from postroom.imports.detect import DELIMITERS, Layout
from postroom.imports.reader import Record

RAW_LIMIT = 500  # characters of a bad row kept in the report
ROW_LIMIT = 10_000  # characters of a reported row's cells kept, so it can be fixed and re-imported
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
    status: str = ""  # a tools.STATES name; "" is the import's own (subscribe as chosen)
    status_at: str = ""  # ISO time of the state in the old tool ("" = unknown)
    tags_json: str = ""  # JSON list of tag names
    optin_at: str = ""  # consent record: ISO opt-in time, IP, confirmation time
    optin_ip: str = ""
    confirmed_at: str = ""
    # The row as read (its cells, and which file of an archive): what the report of a
    # duplicate or a row refused by the writer shows, so it can be fixed and re-imported.
    # Usually one string joined with UNIT (see kept_cells); `row` gives the cells.
    cells: str | tuple = ()
    part: int = 0

    @property
    def row(self) -> tuple:
        return row_cells(self.cells)

    def rejected(self, reason: str) -> "Rejection":
        """This row refused by the writer (suppressed, blocklisted), reported whole."""
        return Rejection(self.line, self.raw, reason, self.row, self.part)

    @property
    def left(self) -> bool:
        return self.status in tools.LEFT

    @property
    def tags(self) -> list[str]:
        return json.loads(self.tags_json) if self.tags_json else []

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
_PLAIN = ("",) * 6  # status, status_at, tags and consent of a row that has none


@dataclass(slots=True)
class Rejection:
    line: int
    raw: str
    reason: str
    cells: tuple = ()  # the original row, for the rejects CSV
    part: int = 0  # which file of an archive


# Joins a contact's cells into one string: sent between processes for every row but
# read for few (duplicates, suppressed), one string unpickles in a sixth of the time
# of six (measured: 1.6 µs a row of the writer's CPU for the tuple).
UNIT = "\x1f"


def kept_cells(cells: list[str]) -> str | tuple:
    """The row's cells for the report, whole unless together they exceed ROW_LIMIT:
    joined with UNIT when no cell holds it, else as a tuple."""
    if sum(map(len, cells)) > ROW_LIMIT:
        share = max(1, ROW_LIMIT // max(1, len(cells)))
        cells = [_cut(cell, share) for cell in cells]
    joined = UNIT.join(cells)
    if cells and joined.count(UNIT) == len(cells) - 1:
        return joined
    return tuple(cells)


def row_cells(kept: str | tuple) -> tuple:
    """The cells kept_cells kept."""
    return tuple(kept.split(UNIT)) if isinstance(kept, str) else kept


class RowParser:
    """Turns records into Contacts or Rejections for one layout."""

    def __init__(self, layout: Layout, part: int = 0) -> None:
        self.layout = layout
        self.part = part
        # The sample says most rows are split with the wrong delimiter: only then is
        # advice to change it given (see detect.misread_delimiter).
        self.misread = layout.misread_delimiter
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
        self.json_index = _index(layout.mapping, "attributes")
        self.json_keys = (
            [(i, _json_string(key) + ": ") for i, key in self.attributes]
            if len(set(keys)) == len(keys) and self.json_index is None
            else None
        )
        self.columns = layout.columns
        self.default_status = layout.status
        self.states = [(i, m) for i, m in enumerate(layout.mapping) if m in tools.STATUS_TARGETS]
        self.tags_index = _index(layout.mapping, "tags")
        self.consent = [
            _index(layout.mapping, f)
            for f in ("optin_time", "optin_ip", "confirm_time", "confirm_ip")
        ]
        # Plain files (no status, tags or consent columns) keep the fast path.
        self.extra = bool(
            self.states
            or self.default_status
            or self.tags_index is not None
            or any(i is not None for i in self.consent)
        )

    def parse(self, record: Record) -> Contact | Rejection:
        cells = original = record.cells
        if record.problem:
            return Rejection(record.line, "", record.problem, (), self.part)
        width = self.width
        count = len(cells)
        if count < width:
            cells = cells + [""] * (width - count)
        elif count > width and any(c.strip() for c in cells[width:]):
            return self._reject(
                record,
                _raw(self.layout.delimiter.join(cells)),
                T.TOO_MANY_FIELDS
                % {"count": count, "width": width, "delimiter": _shown(self.layout.delimiter)},
            )
        raw_email = cells[self.email_index]
        try:
            email = normalize_email(raw_email)
            repair = display_name = ""
        except InvalidEmail as exc:
            repaired = self._repair(raw_email)
            if repaired is None:
                return self._reject(record, _raw(raw_email), self._reason(raw_email, exc))
            email, display_name, repair = repaired
        if self.json_index is None:
            attributes = self._attributes_json(cells)
        else:
            merged = self._merged_attributes(cells)
            if merged is None:
                value = cells[self.json_index]
                column = self.columns[self.json_index]
                return self._reject(
                    record,
                    _raw(value),
                    T.NOT_JSON_OBJECT % {"column": repr(column)},
                )
            attributes = merged
        fields = (
            record.line,
            email,
            self._name(cells) or display_name,
            attributes,
            email_hash(email),
            repair,
            raw_email if len(raw_email) <= RAW_LIMIT else _raw(raw_email),
        )
        row = (kept_cells(original), self.part)
        if not self.extra:
            return _new_tuple(Contact, fields + _PLAIN + row)
        extras = self._extras(cells)
        if isinstance(extras, str):
            return self._reject(record, _raw(raw_email), extras)
        return _new_tuple(Contact, fields + extras + row)

    def _reject(self, record: Record, raw: str, reason: str) -> Rejection:
        return Rejection(record.line, raw, reason, row_cells(kept_cells(record.cells)), self.part)

    def _extras(self, cells: list[str]) -> tuple | str:
        """(status, status_at, tags, consent…) of a row, or why they cannot be read."""
        state, at = self.default_status, ""
        for i, target in self.states:
            value = cells[i].strip()
            found: str | None = ""
            when = ""
            if target in ("status", "list_status"):
                found = tools.status_of(value)
                if found is None:
                    return T.UNKNOWN_STATUS % {
                        "value": repr(value[:40]),
                        "column": repr(self.columns[i]),
                    }
            elif target in ("unsubscribed_at", "bounced_at"):
                if value:
                    found = tools.UNSUBSCRIBED if target == "unsubscribed_at" else tools.BOUNCED
                    when = tools.parse_time(value) or ""
            else:
                flag = tools.flag_of(value)
                if flag is None:
                    return T.NOT_YES_NO % {
                        "column": repr(self.columns[i]),
                        "value": repr(value[:40]),
                    }
                if flag:
                    unsubscribed = target == "unsubscribed_flag"
                    found = tools.UNSUBSCRIBED if unsubscribed else tools.BLOCKLISTED
            if not found:
                continue
            if tools.SEVERITY[found] > tools.SEVERITY[state]:
                state, at = found, when
            elif found == state and when and not at:
                at = when
        optin_at, optin_ip, confirmed_at, confirm_ip = (
            cells[i].strip() if i is not None else "" for i in self.consent
        )
        return (
            state,
            at,
            _tags_json(cells[self.tags_index]) if self.tags_index is not None else "",
            tools.parse_time(optin_at) or "",
            _ip(optin_ip) or _ip(confirm_ip),
            tools.parse_time(confirmed_at) or "",
        )

    def _merged_attributes(self, cells: list[str]) -> str | None:
        """A JSON attributes column (listmonk, Keila) merged with the attribute columns."""
        assert self.json_index is not None
        value = cells[self.json_index].strip()
        attributes: dict = {}
        if value:
            try:
                attributes = json.loads(value)
            except ValueError:
                return None
            if not isinstance(attributes, dict):
                return None
        for i, key in self.attributes:
            cell = cells[i].strip()
            if cell:
                attributes[key] = cell
        return json.dumps(attributes)

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
            candidate, note = match.group(3), T.FROM_DISPLAY_NAME
        else:
            match = _MAILTO.match(value)
            if not match:
                return None
            display, candidate, note = "", match.group(1), T.MAILTO_REMOVED
        try:
            email = normalize_email(candidate)
        except InvalidEmail:
            return None
        return email, display[:MAX_NAME], note % {"email": email}

    def _reason(self, raw: str, exc: InvalidEmail) -> str:
        if not raw.strip():
            return T.NO_EMAIL
        for d in DELIMITERS:
            head, _, rest = raw.partition(d)
            if d in raw and "@" in head and _valid(head):
                shown, own = _shown(d), _shown(self.layout.delimiter)
                if d == self.layout.delimiter:
                    return T.WHOLE_ROW_QUOTED % {"shown": shown}
                if d == self.misread:
                    return T.OTHER_DELIMITER % {"shown": shown, "own": own}
                # One row among good ones: its cell holds more than an address, and
                # changing the file's delimiter would break every other row.
                return T.SEVERAL_VALUES % {
                    "head": repr(head.strip()),
                    "rest": repr(_cut(d + rest, 60)),
                }
        return T.INVALID_EMAIL % {"detail": exc.detail}


def _tags_json(value: str) -> str:
    """Tags written as `"vip","2024 fair"` (Mailchimp), `a, b`, `a; b` or a JSON list."""
    value = value.strip()
    if not value:
        return ""
    names: list = []
    if value.startswith("["):
        try:
            names = json.loads(value)
        except ValueError:
            names = []
    if not names or not isinstance(names, list):
        delimiter = "," if "," in value or ";" not in value else ";"
        names = next(csv.reader([value], delimiter=delimiter, skipinitialspace=True), [])
    cleaned = [str(n).strip().strip('"').strip()[:100] for n in names]
    cleaned = list(dict.fromkeys(n for n in cleaned if n))
    return json.dumps(cleaned) if cleaned else ""


def _ip(value: str) -> str:
    if not value:
        return ""
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return ""  # "No data" (Sendy) and the like: no IP in the consent record


def _valid(value: str) -> bool:
    try:
        normalize_email(value)
    except InvalidEmail:
        return False
    return True


def _index(mapping: list[str], field: str) -> int | None:
    return mapping.index(field) if field in mapping else None


def _shown(delimiter: str) -> str:
    return T.TAB if delimiter == "\t" else f"'{delimiter}'"


def _raw(value: str) -> str:
    return _cut(value, RAW_LIMIT)


def _cut(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[:limit] + "…"
