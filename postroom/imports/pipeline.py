"""Reading side of an import: file → validated, de-duplicated batches, Django-free.

It imports nothing from Django so that processes spawned for big files (sharing
no database connection) parse them on every core while this one writes.
"""

import multiprocessing
import os
import sqlite3
import tempfile
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from postroom.imports import chunks
from postroom.imports.detect import Layout
from postroom.imports.reader import Reader
from postroom.imports.rows import Contact, Rejection, RowParser

# Rows per committed batch: a bigger batch touches each index page fewer times per
# row (10,000 measured 30 s of SQLite CPU for 1,000,000 new rows, 50,000 23 s), a
# smaller one holds less memory (a contact ~1.5 KB in Python: 25,000 measured a
# peak RSS of 269 MB) and resumes nearer.
BATCH = 10_000
# Files this big are parsed by a pool of processes while this one writes.
PARALLEL_FROM_BYTES = 8 * 1024 * 1024
# One parsing process per core, beside this one, which waits on the database part
# of its time.
WORKERS = max(1, min(4, os.cpu_count() or 1))


class SeenAddresses:
    """Addresses met so far in this file and the line each was first met on, on disk
    (in `directory`): a duplicate check in flat memory.

    Asked a batch at a time: one INSERT per address cost ~4 µs, a batch through
    a scratch table and two set-based statements well under 1 µs an address.
    """

    def __init__(self, directory: str) -> None:
        self._db = sqlite3.connect(Path(directory) / "seen.sqlite3", isolation_level=None)
        self._db.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-8000;"
            "CREATE TABLE seen (email TEXT PRIMARY KEY, line INTEGER, part INTEGER) WITHOUT ROWID;"
            "CREATE TEMP TABLE batch (email TEXT PRIMARY KEY, line INTEGER, part INTEGER)"
            " WITHOUT ROWID; BEGIN;"
        )

    def earlier(
        self, emails: list[str], lines: list[int], parts: list[int]
    ) -> dict[int, tuple[int, int]]:
        """Of a batch of addresses in file order, those met before (in it or in an earlier
        batch): {index in the batch: (part, line) of the row that had it first}."""
        last = len(emails) - 1
        first = dict(zip(reversed(emails), range(last, -1, -1), strict=True))  # first index wins
        db = self._db
        db.execute("DELETE FROM batch")
        db.executemany(
            "INSERT INTO batch VALUES (?, ?, ?)",
            [(e, lines[i], parts[i]) for e, i in sorted(first.items())],
        )
        known = {
            email: (part, line)
            for email, part, line in db.execute(
                "SELECT email, seen.part, seen.line FROM batch JOIN seen USING (email)"
            )
        }
        db.execute("INSERT OR IGNORE INTO seen SELECT email, line, part FROM batch")
        if not known and len(first) == len(emails):
            return {}  # all met for the first time: nearly every batch
        found: dict[int, tuple[int, int]] = {}
        for index, email in enumerate(emails):
            if email in known:
                found[index] = known[email]
            elif (met := first[email]) != index:
                found[index] = (parts[met], lines[met])
        return found

    def close(self) -> None:
        self._db.close()


Answer = Callable[[], dict[int, tuple[int, int]]]


class DuplicateCheck:
    """The file's SeenAddresses, asked a batch ahead of the writer.

    When a pool parses the file, the check runs in a process of its own, while the
    importing process writes the batch before: on PostgreSQL, where that process
    mostly waits for the server, this took ~10 % off a million-row import; on
    SQLite it measured neither faster nor slower (both sides are memory-bound
    B-tree work). Asked in file order, answered in file order (one process).
    """

    def __init__(self, context=None) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="postroom-import-")
        self._pool = None
        self._here: SeenAddresses | None = None
        if context is None:
            self._here = SeenAddresses(self._dir.name)
        else:
            self._pool = context.Pool(1, initializer=_open_seen, initargs=(self._dir.name,))

    def ask(self, contacts: list[Contact]) -> Answer:
        """Start checking `contacts`; call the result for SeenAddresses.earlier's answer."""
        emails, lines = [c.email for c in contacts], [c.line for c in contacts]
        batch = (emails, lines, [c.part for c in contacts])
        if self._pool is not None:
            return self._pool.apply_async(_earlier, batch).get
        assert self._here is not None
        found = self._here.earlier(*batch)
        return lambda: found

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()  # its database is thrown away with the directory
            self._pool.join()
        if self._here is not None:
            self._here.close()
        self._dir.cleanup()


_seen: SeenAddresses | None = None  # the duplicate check's process: its one SeenAddresses


def _open_seen(directory: str) -> None:
    global _seen
    _seen = SeenAddresses(directory)


def _earlier(emails: list[str], lines: list[int], parts: list[int]) -> dict:
    assert _seen is not None
    return _seen.earlier(emails, lines, parts)


class Duplicate(NamedTuple):
    """A row whose address an earlier row of the file already had: listed in the report."""

    line: int
    part: int
    first_line: int  # the row that had the address first (same part or an earlier one)
    first_part: int
    raw: str
    cells: tuple
    applied: bool  # its status (the person left) was applied too


@dataclass
class Batch:
    contacts: list[Contact]
    rejections: list[Rejection]
    duplicates: int
    records: int
    position: int
    # Duplicates whose row says the person left: applied too, so that a file listing
    # someone as subscribed and then as unsubscribed leaves them unsubscribed.
    late_left: list[Contact] = field(default_factory=list)
    duplicate_rows: list[Duplicate] = field(default_factory=list)


def batches(path: Path, layout: dict, skip: int, size: int) -> Iterator[Batch]:
    """Parsed batches: read here for small files, by a pool of processes for big ones."""
    # A daemonic process (a worker started by `postroom run`) may not start another.
    if size < PARALLEL_FROM_BYTES or multiprocessing.current_process().daemon:
        yield from _read(path, layout, skip)
        return
    context = multiprocessing.get_context("spawn")  # no inherited database connections
    with context.Pool(WORKERS) as pool:
        yield from _read(path, layout, skip, pool, context)


class Parsed:
    """Every row of every part of a layout (the files of an archive, in order), parsed,
    and how far the bytes went over all of them.

    With a pool, a part big enough is parsed by its processes, range by range
    (chunks.py), and taken back in file order: the same rows as reading it here.
    """

    def __init__(self, path: Path, layout: Layout, pool=None) -> None:
        self.path = path
        self.parts = layout.parts()
        self.done = 0
        self.reader: Reader | None = None
        self.pool = pool
        self.at = 0  # bytes of the current part taken back from the pool

    @property
    def position(self) -> int:
        return self.done + (self.reader.position if self.reader else self.at)

    def files(self) -> list[Path]:
        return [Path(part.path) if part.path else self.path for part in self.parts]

    def __iter__(self) -> Iterator[Contact | Rejection]:
        for rows in self.runs():
            yield from rows

    def runs(self) -> Iterator[list[Contact | Rejection]]:
        """The rows in file order, a list at a time (a pool's range, or one row read
        here): handing a million rows on one by one through two generators cost the
        writing process ~1 µs a row."""
        named = len(self.parts) > 1
        for index, (part, file) in enumerate(zip(self.parts, self.files(), strict=True)):
            prefix = f"{part.member}: " if named and part.member else ""
            size = file.stat().st_size
            ranges = None
            if self.pool is not None and size >= PARALLEL_FROM_BYTES:
                ranges = chunks.spans(file, part.encoding)
            rest: chunks.Span | None = (0, size, 0)
            if ranges:
                rest = None
                for span, rows in chunks.in_order(self.pool, file, part, index, prefix, ranges):
                    if rows is None:
                        rest = span  # that range was cut inside a quoted field
                        break
                    self.at = span[1]
                    yield rows
            if rest is not None:
                for row in self._in_order(file, part, index, prefix, rest):
                    yield [row]
            self.at = 0
            self.done += size

    def _in_order(
        self, file: Path, part: Layout, index: int, prefix: str, span: chunks.Span
    ) -> Iterator[Contact | Rejection]:
        """The rows from `span` on, read here, one after the other."""
        parse = RowParser(part, index).parse
        with Reader(file, part, span=span) as reader:
            self.reader = reader
            for record in reader:
                result = parse(record)
                if prefix and isinstance(result, Rejection):
                    result.reason = prefix + result.reason
                yield result
        self.reader = None


def _read(path: Path, layout_data: dict, skip: int, pool=None, context=None) -> Iterator[Batch]:
    seen = DuplicateCheck(context)
    try:
        yield from _batches(Parsed(path, Layout.from_dict(layout_data), pool), seen, skip)
    finally:
        seen.close()


def _batches(parsed: Parsed, seen: DuplicateCheck, skip: int) -> Iterator[Batch]:
    """Batches of parsed rows, each checked for duplicates (in the check's process, with
    a pool) while the one before it is written."""
    asked: deque = deque()  # (rows, contacts, position, answer) being checked
    for results, position in _runs(parsed, seen, skip):
        contacts = _contacts(results)
        asked.append((results, contacts, position, seen.ask(contacts)))
        if len(asked) > 1:
            yield _batch(*asked.popleft())
    while asked:
        yield _batch(*asked.popleft())


def _runs(parsed: Parsed, seen: DuplicateCheck, skip: int) -> Iterator[tuple[list, int]]:
    """The parsed rows BATCH at a time, with the position after them; the first `skip`
    records (already committed) only feed `seen`."""
    results: list[Contact | Rejection] = []
    for rows in parsed.runs():
        results += rows
        while len(results) >= BATCH or (skip and len(results) >= skip):
            if skip:
                taken = min(skip, BATCH)
                seen.ask(_contacts(results[:taken]))
                results, skip = results[taken:], skip - taken
                continue
            # The position is that of the run just taken, as when rows came one by one.
            done, results = results[:BATCH], results[BATCH:]
            yield done, parsed.position
    if skip:
        seen.ask(_contacts(results[:skip]))
        results = results[skip:]
    if results:
        yield results, parsed.position


def _contacts(results: list[Contact | Rejection]) -> list[Contact]:
    return [r for r in results if isinstance(r, Contact)]


def _batch(
    results: list[Contact | Rejection], contacts: list[Contact], position: int, answer: Answer
) -> Batch:
    """One batch in file order: contacts met for the first time, rejections, duplicates."""
    rejections = [r for r in results if isinstance(r, Rejection)]
    earlier = answer()
    if not earlier:
        return Batch(contacts, rejections, 0, len(results), position)
    fresh: list[Contact] = []
    late_left: list[Contact] = []
    duplicates: list[Duplicate] = []
    for index, contact in enumerate(contacts):
        first = earlier.get(index)
        if first is None:
            fresh.append(contact)
            continue
        # Duplicates whose row says the person left are applied too (see Batch).
        applied = contact.left
        if applied:
            late_left.append(contact)
        duplicates.append(
            Duplicate(
                contact.line,
                contact.part,
                first[1],
                first[0],
                contact.raw,
                contact.row,
                applied,
            )
        )
    return Batch(fresh, rejections, len(duplicates), len(results), position, late_left, duplicates)
