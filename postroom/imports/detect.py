"""Work out how a contact file is written: encoding, delimiter, header and column mapping.

Everything here runs before any write, so a file that cannot be read at all is
refused with one clear sentence and nothing is stored. Every detected setting
can be overridden; `Layout.detected` keeps what was detected so the preview can
show both.
"""

import codecs
import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import charset_normalizer
from django.utils.translation import gettext, gettext_lazy

from postroom.audience.emails import InvalidEmail, normalize_email
from postroom.errors import InvalidInput
from postroom.imports import tools
from postroom.imports.tools import COLUMN_FIELDS, TARGET_LABELS, normal_header
from postroom.storedtext import gettext_noop

SAMPLE_BYTES = 256 * 1024
SAMPLE_RECORDS = 200
DELIMITERS = [",", ";", "\t", "|"]
# The preview page shows them in the reader's language (gettext_noop marks them).
DELIMITER_NAMES = {
    ",": gettext_noop("comma"),
    ";": gettext_noop("semicolon"),
    "\t": gettext_noop("tab"),
    "|": gettext_noop("pipe"),
}
BASIC_FIELDS = ("email", "name", "first_name", "last_name")
# The last two columns of a rejects CSV (services.write_rejects): ignored when it is
# imported again after fixing.
REPORT_COLUMNS = ("line", "reason")
FIELDS = (*BASIC_FIELDS, "ignore", *TARGET_LABELS)

# Header spellings seen in exports from mail tools, CRMs and spreadsheets, compared
# after lower-casing and dropping accents, spaces, dashes, dots and underscores.
ALIASES = {
    "email": [
        "email",
        "emailaddress",
        "mail",
        "mailaddress",
        "emailadresse",
        "mailadresse",
        "courriel",
        "adressecourriel",
        "adresseemail",
        "adressemail",
        "correo",
        "correoelectronico",
        "direcciondecorreo",
        "posta",
        "epost",
        "epostadresse",
        "emailadres",
        "indirizzoemail",
        "endereco",
        "enderecodeemail",
        "subscriber",
        "subscriberemail",
        "contactemail",
        "primaryemail",
        "emails",
    ],
    "first_name": [
        "firstname",
        "first",
        "givenname",
        "forename",
        "vorname",
        "prenom",
        "nombre",
        "voornaam",
        "nome",
        "imie",
        "fname",
    ],
    "last_name": [
        "lastname",
        "last",
        "surname",
        "familyname",
        "nachname",
        "nom",
        "nomdefamille",
        "apellido",
        "apellidos",
        "achternaam",
        "cognome",
        "sobrenome",
        "nazwisko",
        "lname",
    ],
    "name": [
        "name",
        "fullname",
        "displayname",
        "contactname",
        "nomcomplet",
        "nombrecompleto",
        "vollstandigername",
        "naam",
        "nomecompleto",
    ],
}
_ALIAS_TO_FIELD = {alias: name for name, aliases in ALIASES.items() for alias in aliases}
_ALIAS_TO_FIELD.update(COLUMN_FIELDS)

_SIGNATURES = [
    (b"PK\x03\x04", gettext_lazy("a spreadsheet (.xlsx/.ods) or a ZIP archive")),
    (b"\xd0\xcf\x11\xe0", gettext_lazy("an old Excel (.xls) spreadsheet")),
    (b"%PDF", gettext_lazy("a PDF document")),
    (b"\x1f\x8b", gettext_lazy("a gzip archive")),
    (b"{\\rtf", gettext_lazy("an RTF document")),
]
_BOMS = [
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
]


class UnreadableFile(InvalidInput):
    """The file as a whole cannot be imported; nothing was written."""


class LooksLikeLeavers(InvalidInput):
    """The file seems to list people who left, and no column says who: the user decides."""


@dataclass
class Layout:
    """How to read a file: the settings in force and what detection found."""

    encoding: str
    delimiter: str
    has_header: bool
    columns: list[str]  # header cells, or "column 1", "column 2", ... without a header
    mapping: list[str]  # per column: a FIELDS name or attr:KEY
    detected: dict = field(default_factory=dict)
    file_name: str = ""  # as uploaded: its name can say what the file is
    source: str = ""  # what was recognised: "Mailchimp unsubscribed export"
    status: str = ""  # the state of rows whose own columns give none (tools.STATES)
    member: str = ""  # the file's name inside an archive, or the sheet's name
    path: str = ""  # the text file to read, when it is not the upload itself
    members: list[dict] = field(default_factory=list)  # an archive: a layout per file
    # Another delimiter most sampled rows' email cells are joined with ("" for none):
    # only then does a rejected row advise reading the file with it.
    misread_delimiter: str = ""

    @property
    def has_status_column(self) -> bool:
        return any(m in tools.STATUS_TARGETS for m in self.mapping)

    def parts(self) -> list["Layout"]:
        """The layouts to read, in order: the members of an archive, or this one."""
        return [Layout.from_dict(m) for m in self.members] or [self]

    @property
    def email_column(self) -> int:
        return self.mapping.index("email")

    def as_dict(self) -> dict:
        return {
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "has_header": self.has_header,
            "columns": self.columns,
            "mapping": self.mapping,
            "detected": self.detected,
            "file_name": self.file_name,
            "source": self.source,
            "status": self.status,
            "member": self.member,
            "path": self.path,
            "members": self.members,
            "misread_delimiter": self.misread_delimiter,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "Layout":
        return cls(**data)


def parse_delimiter(value: str | None) -> str | None:
    """The delimiter a user typed (`,` `;` `tab` `|`, or a name), None for auto."""
    if value in (None, "", "auto"):
        return None
    aliases = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
    value = aliases.get(value.lower(), value)
    if value not in DELIMITERS:
        raise InvalidInput(
            gettext("unknown delimiter %(value)s: use auto, ',', ';', tab or '|'")
            % {"value": repr(value)}
        )
    return value


def parse_mapping(items: list[str] | None) -> dict[str, str]:
    """`COLUMN=FIELD` strings into {column: field}; FIELD is a field name or an attribute."""
    result: dict[str, str] = {}
    for item in items or []:
        column, sep, target = item.partition("=")
        if not sep or not column.strip() or not target.strip():
            raise InvalidInput(
                gettext("--map %(item)s must look like COLUMN=FIELD, e.g. 'E-Post=email'")
                % {"item": repr(item)}
            )
        result[column.strip()] = target_field(target.strip())
    return result


def target_field(target: str) -> str:
    """A mapping target as stored: a known field, or `attr:KEY` for anything else."""
    lowered = target.lower()
    if lowered in FIELDS:
        return lowered
    if lowered in ("timezone", "language"):
        return f"attr:{lowered}"
    key = lowered[5:] if lowered.startswith("attr:") else target
    return f"attr:{attribute_key(key)}"


def attribute_key(header: str) -> str:
    """A tidy attribute name for templates: `Signup Date` -> `signup_date`."""
    key = re.sub(r"\W+", "_", header.strip().lower()).strip("_")
    return key or "value"


def detect(
    path: Path,
    encoding: str | None = None,
    delimiter: str | None = None,
    mapping: dict[str, str] | None = None,
    *,
    file_name: str = "",
    status: str | None = None,
) -> Layout:
    """Inspect `path` and return how to read it, or raise UnreadableFile.

    `status` is the state the user gives every row whose columns say none;
    None takes what the file itself says (a Mailchimp unsubscribed export).
    """
    size = path.stat().st_size
    if size == 0:
        raise UnreadableFile(gettext("the file is empty"))
    with path.open("rb") as f:
        head = f.read(SAMPLE_BYTES)
    _refuse_known_binaries(head)
    detected_encoding = _detect_encoding(path, head)
    chosen_encoding = _check_encoding(encoding) if encoding else detected_encoding
    bad_byte = _first_undecodable_byte(path, chosen_encoding)
    if bad_byte is not None and not encoding and detected_encoding == "utf-8":
        # The start was plain ASCII; the detector decides from where it stops being UTF-8.
        with path.open("rb") as f:
            f.seek(max(0, bad_byte - 4096))
            detected_encoding = chosen_encoding = _guess(head[:65536] + f.read(SAMPLE_BYTES))
        bad_byte = _first_undecodable_byte(path, chosen_encoding)
    if bad_byte is not None:
        refusal = (
            gettext("the file is not valid %(encoding)s text (byte %(byte)s)")
            if encoding
            else gettext(
                "the file is not valid %(encoding)s text (byte %(byte)s);"
                " pass --encoding to choose another"
            )
        )
        raise UnreadableFile(refusal % {"encoding": chosen_encoding, "byte": bad_byte})
    text = _decode_sample(head, chosen_encoding, complete=size <= SAMPLE_BYTES)
    _refuse_binary_text(text)
    if not text.strip():
        raise UnreadableFile(gettext("the file holds no rows, only blank space"))
    records_by_delimiter = {d: _sample_records(text, d) for d in DELIMITERS}
    detected_delimiter = _pick_delimiter(records_by_delimiter)
    chosen_delimiter = delimiter or detected_delimiter
    records = records_by_delimiter[chosen_delimiter]
    first = records[0] if records else []
    # A first row naming an email column, or holding no address at all, is a header.
    has_header = _header_fields(first) is not None or not any("@" in cell for cell in first)
    columns = _columns(first, has_header, records)
    detected_mapping = _detect_mapping(columns, records, has_header)
    if has_header and tuple(c.lower() for c in columns[-2:]) == REPORT_COLUMNS:
        detected_mapping[-2:] = ["ignore", "ignore"]  # a rejects CSV, fixed
    mapping_list = _apply_overrides(columns, detected_mapping, mapping or {})
    if "email" not in mapping_list:
        shown = ", ".join(repr(c) for c in columns[:8])
        raise UnreadableFile(
            gettext(
                "no email column: none of the columns (%(columns)s) is an email header or holds"
                " addresses; choose one with --map COLUMN=email"
            )
            % {"columns": shown}
        )
    if mapping_list.count("email") > 1:
        raise InvalidInput(gettext("only one column can be mapped to email"))
    name = file_name or path.name
    recognised = tools.recognise(columns, name)
    if status is not None and status not in ("", *tools.STATES):
        raise InvalidInput(
            gettext("unknown status %(status)s: use %(states)s")
            % {"status": repr(status), "states": ", ".join(tools.STATES)}
        )
    return Layout(
        encoding=chosen_encoding,
        delimiter=chosen_delimiter,
        has_header=has_header,
        columns=columns,
        mapping=mapping_list,
        detected={
            "encoding": detected_encoding,
            "delimiter": detected_delimiter,
            "mapping": detected_mapping,
            "status": recognised.status,
        },
        file_name=name,
        source=recognised.part,
        status=recognised.status if status is None else status,
        misread_delimiter=_misread_delimiter(
            records[1:] if has_header else records, mapping_list.index("email"), chosen_delimiter
        ),
    )


def safeguard(layout: Layout, mode: str) -> None:
    """Refuse a file that looks like a list of people who left unless something says
    who left: a status column, the file's own kind, or a status the user chose."""
    if mode == "blocklist":
        return
    for part in layout.parts():
        if part.status or part.has_status_column:
            continue
        hint = tools.looks_like_leavers(part.columns, part.member or part.file_name)
        if hint:
            raise LooksLikeLeavers(
                gettext(
                    "%(hint)s suggests people who unsubscribed, bounced or were blocklisted,"
                    " and no column says who: choose the status to give everyone in it"
                    " (unsubscribed, bounced, blocklisted, or subscribed if nobody in it left)"
                    " with --status, or under 'Status of everyone whose row gives none'"
                )
                % {"hint": hint}
            )


def _refuse_known_binaries(head: bytes) -> None:
    for signature, what in _SIGNATURES:
        if head.startswith(signature):
            raise UnreadableFile(
                gettext(
                    "this is %(what)s, not a CSV file: open it and save it as CSV (UTF-8) first"
                )
                % {"what": what}
            )


def _detect_encoding(path: Path, head: bytes) -> str:
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name
    if b"\x00" in head:
        # Excel's "Unicode text" without a BOM: every other byte of ASCII text is NUL.
        even, odd = head[0::2], head[1::2]
        if odd.count(0) > len(odd) * 0.3 and even.count(0) < len(even) * 0.05:
            return "utf-16-le"
        if even.count(0) > len(even) * 0.3 and odd.count(0) < len(odd) * 0.05:
            return "utf-16-be"
        raise UnreadableFile(gettext("this is a binary file, not a CSV file"))
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return _guess(head)
    return "utf-8"


# When several code pages read a sample identically (Western names decode the same
# in most of them), the one spreadsheets write most wins.
_PREFERRED = ["cp1252", "latin_1", "iso8859_15", "mac_roman", "cp1250"]


def _guess(sample: bytes) -> str:
    results = charset_normalizer.from_bytes(sample)
    best = results.best()
    if best is None:
        raise UnreadableFile(
            gettext("cannot tell the file's text encoding; it may be binary, or pass --encoding")
        )
    # Code pages the detector scores the same, or that read the sample identically.
    text = sample.decode(best.encoding, errors="replace")
    tied = {
        codecs.lookup(m.encoding).name
        for m in results
        if (m.chaos, m.coherence) == (best.chaos, best.coherence)
    }
    for name in _PREFERRED:
        try:
            if sample.decode(name) == text:
                tied.add(codecs.lookup(name).name)
        except UnicodeDecodeError:
            continue
    for name in _PREFERRED:
        if codecs.lookup(name).name in tied:
            return codecs.lookup(name).name
    return codecs.lookup(best.encoding).name


def _check_encoding(name: str) -> str:
    try:
        return codecs.lookup(name).name
    except LookupError:
        raise InvalidInput(gettext("unknown encoding %(name)s") % {"name": repr(name)}) from None


def _first_undecodable_byte(path: Path, encoding: str) -> int | None:
    """Decode the whole file once (fast, streamed) so no row fails half-way through."""
    decoder = codecs.getincrementaldecoder(encoding)()
    position = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                return max(0, position + exc.start)
            position += len(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return position
    return None


def _decode_sample(head: bytes, encoding: str, complete: bool) -> str:
    text = codecs.getincrementaldecoder(encoding)().decode(head, final=complete)
    if not complete:  # a cut-off last line would skew the delimiter count
        cut = max(text.rfind("\n"), 0)
        text = text[:cut] if cut else text
    return text


def _refuse_binary_text(text: str) -> None:
    controls = sum(
        1 for c in text[:20000] if unicodedata.category(c) == "Cc" and c not in "\t\r\n\f"
    )
    # A few stray control characters happen in real exports; binary data is full of them.
    if controls > max(32, len(text[:20000]) // 10):
        raise UnreadableFile(gettext("this is a binary file, not a CSV file"))


def _sample_records(text: str, delimiter: str) -> list[list[str]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    records = []
    try:
        for record in reader:
            if record and any(cell.strip() for cell in record):
                records.append(record)
            if len(records) >= SAMPLE_RECORDS:
                break
    except csv.Error:
        pass  # the rows read so far still tell the shape
    return records


def _pick_delimiter(records_by_delimiter: dict[str, list[list[str]]]) -> str:
    """The delimiter whose rows have one consistent width above one; a header naming
    an email column under it counts most, as it is the surest sign."""

    def score(delimiter: str) -> tuple:
        records = records_by_delimiter[delimiter]
        if not records:
            return (False, False, 0.0, 0)
        widths = [len(r) for r in records]
        mode = max(set(widths), key=widths.count)
        header = _header_fields(records[0])
        email_header = header is not None and "email" in header
        consistency = widths.count(mode) / len(widths)
        return (email_header, mode > 1, round(consistency, 2), mode)

    return max(DELIMITERS, key=score)


_normal_header = normal_header


def _header_fields(record: list[str]) -> list[str] | None:
    """The field each header cell names, or None when the row is not a header."""
    fields = [_ALIAS_TO_FIELD.get(_normal_header(cell), "") for cell in record]
    if "email" not in fields:
        return None
    return fields


def _columns(first: list[str], has_header: bool, records: list[list[str]]) -> list[str]:
    if has_header:
        return [cell.strip().lstrip("\ufeff") or f"column {i + 1}" for i, cell in enumerate(first)]
    width = max((len(r) for r in records), default=1)
    return [f"column {i + 1}" for i in range(width)]


def _detect_mapping(columns: list[str], records: list[list[str]], has_header: bool) -> list[str]:
    mapping: list[str] = []
    fields = [_ALIAS_TO_FIELD.get(_normal_header(c), "") for c in columns] if has_header else []
    for i, column in enumerate(columns):
        known = fields[i] if fields else ""
        if known == "attributes" and not _holds_json(records[1:], i):
            known = ""  # a column named "data" holding plain text stays an attribute
        if known and known not in mapping:
            mapping.append(known)
        else:
            mapping.append(f"attr:{attribute_key(column)}")
    if "email" not in mapping:
        # No header names it: the column where most values look like addresses holds them.
        counts = [0] * len(columns)
        for record in records[1:] if has_header else records:
            for i, cell in enumerate(record[: len(columns)]):
                if "@" in cell:
                    counts[i] += 1
        if counts and max(counts) > 0:
            mapping[counts.index(max(counts))] = "email"
    return mapping


def _misread_delimiter(records: list[list[str]], email_index: int, delimiter: str) -> str:
    """The delimiter most sampled rows seem really split by, judged from their email
    cells (`a@b.com;Jane;Doe` in a file read with commas), or "".

    Whole-file advice needs whole-file evidence: one such row among good ones is a
    typing slip, and reading the file with `;` would break every other row.
    """
    cells = [r[email_index] for r in records if email_index < len(r) and r[email_index].strip()]
    for other in DELIMITERS:
        if other == delimiter:
            continue
        joined = sum(1 for c in cells if other in c and _is_address(c.split(other, 1)[0]))
        if cells and joined * 2 > len(cells):
            return other
    return ""


def _is_address(value: str) -> bool:
    if "@" not in value:
        return False
    try:
        normalize_email(value)
    except InvalidEmail:
        return False
    return True


def _holds_json(records: list[list[str]], index: int) -> bool:
    values = [r[index].strip() for r in records if index < len(r) and r[index].strip()]
    return any(v.startswith("{") for v in values) and all(v[0] in "{[" for v in values)


def _apply_overrides(
    columns: list[str], detected: list[str], overrides: dict[str, str]
) -> list[str]:
    mapping = list(detected)
    lowered = [c.lower() for c in columns]
    for column, target in overrides.items():
        if column.isdigit() and 1 <= int(column) <= len(columns):
            index = int(column) - 1
        elif column.lower() in lowered:
            index = lowered.index(column.lower())
        else:
            shown = ", ".join(repr(c) for c in columns)
            raise InvalidInput(
                gettext("--map: no column %(column)s; the columns are %(columns)s")
                % {"column": repr(column), "columns": shown}
            )
        if target in FIELDS and target != "ignore":
            # A field can come from one column only: the override takes it from the other.
            mapping = [
                f"attr:{attribute_key(columns[i])}" if m == target else m
                for i, m in enumerate(mapping)
            ]
        mapping[index] = target
    return mapping
