"""Spreadsheets and archives enter the one CSV pipeline: each becomes CSV text first.

An .xlsx sheet (openpyxl, read-only streaming), an .ods sheet (content.xml read
with iterparse, rows dropped as soon as they are written) or each CSV file of a
ZIP archive (Mailchimp's audience export) is written out once as a UTF-8 CSV
next to the upload, one line per sheet row, so that detection, the preview,
mapping, validation, per-row reasons with their line numbers, resuming and the
second reading process work unchanged, and memory stays flat. A CSV upload is
read where it is.

Archives are checked before anything is unpacked: a member that unpacks to more
than MAX_RATIO times its packed size, or an archive that unpacks to more than
MAX_UNPACKED bytes in all, is a zip bomb and is refused; zipfile itself stops a
member at its declared size, so the declared sizes cannot lie.
"""

import csv
import re
import uuid
import zipfile
from collections.abc import Iterator
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from defusedxml.ElementTree import iterparse
from django.utils.translation import gettext

from postroom.imports.detect import Layout, UnreadableFile, detect

MAX_UNPACKED = 1 << 30  # 1 GiB of text in all; a 1,000,000-row CSV is ~100 MB
MAX_RATIO = 200  # CSV compresses ~5-10 times, sheet XML ~10-30; 200 is no real file
MAX_MEMBERS = 100
MAX_ROWS = 1_048_576  # Excel's own limit
MAX_COLUMNS = 1000
MAX_REPEAT = 1000  # an .ods cell or row repeated more often than this holds no data

_ODS_MIME = b"application/vnd.oasis.opendocument.spreadsheet"
_NEWLINES = re.compile(r"[\r\n]+")
_TEXT = ("csv", "txt", "tsv", "tab")

_NS = {
    "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
    "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
    "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
}


def _q(prefix: str, name: str) -> str:
    return f"{{{_NS[prefix]}}}{name}"


TABLE, ROW, CELL = _q("table", "table"), _q("table", "table-row"), _q("table", "table-cell")
COVERED, PARAGRAPH = _q("table", "covered-table-cell"), _q("text", "p")
ROWS_REPEATED = _q("table", "number-rows-repeated")
COLUMNS_REPEATED = _q("table", "number-columns-repeated")
VALUE_TYPE = _q("office", "value-type")
_VALUE_ATTRIBUTES = {
    "float": _q("office", "value"),
    "percentage": _q("office", "value"),
    "currency": _q("office", "value"),
    "date": _q("office", "date-value"),
    "time": _q("office", "time-value"),
    "boolean": _q("office", "boolean-value"),
}


def inspect(
    path: Path,
    workdir: Path,
    *,
    file_name: str = "",
    encoding: str | None = None,
    delimiter: str | None = None,
    mapping: dict[str, str] | None = None,
    status: str | None = None,
) -> Layout:
    """How to read `path`, whatever it is: CSV, .xlsx, .ods, or a ZIP of CSV files.

    The text of a sheet or of an archive's files is written to `workdir`; the
    layout's parts name those files (remove them with `remove_parts`). On a
    refusal nothing is left behind.
    """
    name = file_name or path.name
    options: dict[str, Any] = {
        "encoding": encoding,
        "delimiter": delimiter,
        "mapping": mapping,
        "status": status,
    }
    with path.open("rb") as f:
        head = f.read(4)
    if head != b"PK\x03\x04":
        return detect(path, file_name=name, **options)
    stem = workdir / uuid.uuid4().hex
    try:
        with _open_zip(path) as archive:
            names = set(archive.namelist())
            if "xl/workbook.xml" in names:
                return _sheet(stem, name, options, _xlsx_rows(path))
            if "mimetype" in names and archive.read("mimetype").strip() == _ODS_MIME:
                return _sheet(stem, name, options, _ods_rows(archive))
            if "mimetype" in names or "[Content_Types].xml" in names:
                raise UnreadableFile(
                    gettext("this is a document, not a spreadsheet: save it as .xlsx, .ods or CSV")
                )
            return _archive(stem, archive, name, options)
    except BaseException:
        for leftover in workdir.glob(f"{stem.name}.part*.csv"):
            leftover.unlink(missing_ok=True)
        raise


def remove_parts(layout: Layout) -> None:
    """Remove the text files written for a layout's parts."""
    for part in layout.parts():
        if part.path:
            Path(part.path).unlink(missing_ok=True)


def _open_zip(path: Path) -> zipfile.ZipFile:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise UnreadableFile(
            gettext(
                "this file starts like a ZIP archive or a spreadsheet but cannot be opened"
                " (%(error)s)"
            )
            % {"error": exc}
        ) from None
    members = [i for i in archive.infolist() if not i.is_dir()]
    if len(members) > MAX_MEMBERS * 50:
        raise UnreadableFile(
            gettext("the archive holds %(count)s files; at most %(most)s")
            % {"count": len(members), "most": MAX_MEMBERS * 50}
        )
    total = 0
    for info in members:
        if info.flag_bits & 0x1:
            raise UnreadableFile(
                gettext("%(name)s in the archive is encrypted") % {"name": repr(info.filename)}
            )
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > 1 << 20 and ratio > MAX_RATIO:
            raise UnreadableFile(
                gettext(
                    "%(name)s would unpack to %(size)s bytes from %(packed)s (%(ratio)s times):"
                    " refused as a zip bomb (at most %(most)s times)"
                )
                % {
                    "name": repr(info.filename),
                    "size": f"{info.file_size:,}",
                    "packed": f"{info.compress_size:,}",
                    "ratio": f"{ratio:,.0f}",
                    "most": MAX_RATIO,
                }
            )
    if total > MAX_UNPACKED:
        raise UnreadableFile(
            gettext(
                "the archive would unpack to %(size)s bytes; at most %(most)s"
                " can be imported at once: split it"
            )
            % {"size": f"{total:,}", "most": f"{MAX_UNPACKED:,}"}
        )
    return archive


def _archive(stem: Path, archive: zipfile.ZipFile, name: str, options: dict) -> Layout:
    """A ZIP of CSV files: each is a part of one import, with its own layout."""
    members = [
        info
        for info in archive.infolist()
        if not info.is_dir()
        and info.filename.rsplit(".", 1)[-1].lower() in _TEXT
        and not info.filename.startswith("__MACOSX/")
        and not info.filename.rsplit("/", 1)[-1].startswith(".")
    ]
    if not members:
        shown = ", ".join(repr(i.filename) for i in archive.infolist()[:5]) or gettext("nothing")
        raise UnreadableFile(
            gettext("the ZIP archive holds no CSV file (it has %(files)s)") % {"files": shown}
        )
    if len(members) > MAX_MEMBERS:
        raise UnreadableFile(
            gettext("the archive holds %(count)s CSV files; at most %(most)s")
            % {"count": len(members), "most": MAX_MEMBERS}
        )
    parts: list[Layout] = []
    for index, info in enumerate(members):
        target = _derived(stem, index)
        with archive.open(info) as source, target.open("wb") as out:
            while chunk := source.read(1 << 20):
                out.write(chunk)
        member = info.filename.rsplit("/", 1)[-1]
        try:
            part = detect(target, file_name=member, **options)
        except UnreadableFile as exc:
            raise UnreadableFile(
                gettext("%(name)s in the archive: %(error)s") % {"name": member, "error": exc}
            ) from None
        part.path, part.member = str(target), member
        parts.append(part)
    first = parts[0]
    layout = Layout.from_dict(first.as_dict())
    layout.file_name = name
    layout.members = [p.as_dict() for p in parts]
    tools = {p.source.split(" ")[0] for p in parts if p.source}
    if len(tools) == 1:
        layout.source = f"{tools.pop()} audience export ({len(parts)} files)"
    return layout


Rows = Iterator[tuple[str, list[str], int]]  # (sheet name, cells, how many rows this is)


def _sheet(stem: Path, name: str, options: dict, rows: Rows) -> Layout:
    """The first sheet as CSV text, then detected like any CSV file."""
    target = _derived(stem, 0)
    sheet = _write_csv(rows, target)
    options = {**options, "encoding": "utf-8", "delimiter": ","}
    layout = detect(target, file_name=name, **options)
    layout.path, layout.member = str(target), sheet
    return layout


def _derived(stem: Path, index: int) -> Path:
    return stem.with_name(f"{stem.name}.part{index}.csv")


def _write_csv(rows: Rows, target: Path) -> str:
    """Write one CSV line per sheet row (a blank line for an empty one), so that the
    reader's line numbers are the sheet's row numbers. Returns the sheet's name."""
    sheet = ""
    number = 0  # the sheet's row number
    with target.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        blank = 0
        for sheet, cells, count in rows:
            while cells and not cells[-1]:
                cells.pop()
            if not cells:
                blank += count  # written only if a row with data follows
                number += count
                continue
            number += count
            if number > MAX_ROWS:
                raise UnreadableFile(
                    gettext("the sheet %(sheet)s has more than %(most)s rows: split it")
                    % {"sheet": repr(sheet), "most": f"{MAX_ROWS:,}"}
                )
            if len(cells) > MAX_COLUMNS:
                raise UnreadableFile(
                    gettext(
                        "row %(row)s of the sheet %(sheet)s has %(count)s columns; at most %(most)s"
                    )
                    % {
                        "row": number,
                        "sheet": repr(sheet),
                        "count": f"{len(cells):,}",
                        "most": MAX_COLUMNS,
                    }
                )
            if blank:
                out.write("\n" * blank)
                blank = 0
            line = [_NEWLINES.sub(" ", cell) for cell in cells]
            for _ in range(count):
                writer.writerow(line)
    if target.stat().st_size == 0:
        raise UnreadableFile(
            gettext("the first sheet %(sheet)s is empty") % {"sheet": repr(sheet)}
            if sheet
            else gettext("the first sheet is empty")
        )
    return sheet


def _text(value: object) -> str:
    """A typed spreadsheet value as the text a CSV export of it would hold."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


def _xlsx_rows(path: Path) -> Rows:
    # Imported here, not at the top: openpyxl takes ~0.2 s to import, which every
    # CSV import and CLI start would pay.
    from openpyxl import load_workbook

    stream = path.open("rb")  # a file, not a name: openpyxl then ignores the extension
    try:
        book = load_workbook(stream, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        stream.close()
        raise UnreadableFile(
            gettext("this .xlsx file cannot be read (%(error)s)") % {"error": exc}
        ) from None
    try:
        if not book.worksheets:
            raise UnreadableFile(gettext("the workbook has no sheet"))
        sheet = book.worksheets[0]
        # The stored dimensions are often wrong (many writers put "A1"): read every row.
        sheet.reset_dimensions()
        title = sheet.title
        yield title, [], 0  # the sheet's name, even when it has no row
        for row in sheet.iter_rows(values_only=True):
            yield title, [_text(v) for v in row], 1
    finally:
        book.close()
        stream.close()


def _ods_rows(archive: zipfile.ZipFile) -> Rows:
    """Rows of the first table of content.xml, streamed: each row is dropped once read."""
    if "content.xml" not in archive.namelist():
        raise UnreadableFile(gettext("this .ods file has no content.xml"))
    name = ""
    depth = 0  # tables inside tables (rare) are skipped
    with archive.open("content.xml") as xml:
        for event, element in iterparse(xml, events=("start", "end")):
            tag = element.tag
            if tag == TABLE:
                if event == "start":
                    depth += 1
                    if depth == 1:
                        name = element.get(_q("table", "name"), "")
                        table = element
                        yield name, [], 0
                elif depth == 1:
                    return  # the first sheet only
                else:
                    depth -= 1
            elif tag == ROW and event == "end" and depth == 1:
                cells = _ods_cells(element)
                repeat = int(element.get(ROWS_REPEATED, "1") or 1)
                if any(cells) and repeat > MAX_REPEAT:
                    raise UnreadableFile(
                        gettext("a row of the sheet %(sheet)s is repeated %(count)s times")
                        % {"sheet": repr(name), "count": f"{repeat:,}"}
                    )
                yield name, cells, repeat
                table.clear()  # what was read is dropped: memory stays flat


def _ods_cells(row) -> list[str]:
    cells: list[str] = []
    blanks = 0
    for cell in row:
        if cell.tag not in (CELL, COVERED):
            continue
        repeat = int(cell.get(COLUMNS_REPEATED, "1") or 1)
        value = _ods_value(cell)
        if not value:
            blanks += repeat  # trailing empty cells are repeated thousands of times
            continue
        if repeat > MAX_REPEAT or len(cells) + blanks + repeat > MAX_COLUMNS:
            raise UnreadableFile(
                gettext("a row of the sheet has more than %(most)s columns") % {"most": MAX_COLUMNS}
            )
        cells.extend([""] * blanks)
        blanks = 0
        cells.extend([value] * repeat)
    return cells


def _ods_value(cell) -> str:
    kind = cell.get(VALUE_TYPE, "")
    attribute = _VALUE_ATTRIBUTES.get(kind)
    if attribute is not None:
        value = cell.get(attribute, "")
        if kind in ("float", "percentage", "currency") and value:
            return _text(float(value)) if _is_number(value) else value
        if value:
            return value
    return " ".join("".join(p.itertext()) for p in cell.iter(PARAGRAPH)).strip()


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True
