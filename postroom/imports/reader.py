"""Stream a contact file as records with their line numbers, in bounded memory.

A quoted field may span lines, so the line a record starts on is kept for the
report. One enormous line or field never reaches memory whole: lines are read
with a length cap and the csv module's field limit stops a runaway quote.
"""

import csv
import io
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from postroom.imports import texts as T
from postroom.imports.detect import Layout

MAX_LINE = 64 * 1024
MAX_FIELD = 64 * 1024


@dataclass(slots=True)
class Record:
    line: int  # where the record starts in the file, 1-based
    cells: list[str]
    problem: str = ""  # set when the record could not be read as a row


class _Lines:
    """Lines of a text stream, each at most MAX_LINE characters.

    An overlong line is skipped up to its end and replaced by a bare newline;
    its number is remembered so the record holding it is rejected, not cut.
    """

    def __init__(self, stream: io.TextIOBase) -> None:
        self.stream = stream
        self.number = 0
        self.overlong: list[int] = []

    def __iter__(self) -> Iterator[str]:
        readline = self.stream.readline
        while True:
            line = readline(MAX_LINE)
            if not line:
                return
            self.number += 1
            if len(line) == MAX_LINE and not line.endswith(("\n", "\r")):
                self.overlong.append(self.number)
                while (rest := readline(MAX_LINE)) and not rest.endswith(("\n", "\r")):
                    pass
                line = "\n"
            yield line


class Reader:
    """Records of a file read with a layout; `position` tells how far the bytes went.

    `span` (first byte, end byte, lines before it) reads from a record boundary on:
    with a `sentinel`, only up to the end byte (one range of chunks.py, read whole,
    then the sentinel as one more line); without, to the end of the file.
    """

    def __init__(
        self,
        path: Path,
        layout: Layout,
        span: tuple[int, int, int] | None = None,
        sentinel: str = "",
    ) -> None:
        self.raw = path.open("rb")
        stream: BinaryIO = self.raw
        start, end, before = span or (0, 0, 0)
        if start:
            self.raw.seek(start)
        if sentinel:
            stream = io.BytesIO(self.raw.read(end - start))
        self.text = io.TextIOWrapper(stream, encoding=layout.encoding, newline="")
        self.lines = _Lines(self.text)
        self.lines.number = before
        csv.field_size_limit(MAX_FIELD)
        source = itertools.chain(self.lines, [sentinel + "\n"]) if sentinel else self.lines
        self.csv = csv.reader(source, delimiter=layout.delimiter)
        self.skip_header = layout.has_header and start == 0

    @property
    def position(self) -> int:
        return self.raw.tell()

    def close(self) -> None:
        self.text.close()
        self.raw.close()

    def __enter__(self) -> "Reader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __iter__(self) -> Iterator[Record]:
        lines, reader = self.lines, self.csv
        first_data = True
        while True:
            start = lines.number + 1
            seen_overlong = len(lines.overlong)
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield Record(start, [], _csv_problem(exc, start))
                continue
            if len(lines.overlong) > seen_overlong:
                where = lines.overlong[seen_overlong]
                yield Record(start, [], T.LINE_TOO_LONG % {"line": where, "limit": MAX_LINE})
                continue
            if not cells or (len(cells) == 1 and not cells[0].strip()):
                continue  # a blank line is not a row
            if first_data and self.skip_header:
                first_data = False
                continue
            first_data = False
            yield Record(start, cells)


def _csv_problem(exc: csv.Error, line: int) -> str:
    message = str(exc)
    if "field larger than field limit" in message:
        return T.FIELD_TOO_LONG % {"limit": MAX_FIELD}
    return T.NOT_CSV % {"error": message}
