"""Reading side of an import: file → validated, de-duplicated batches, Django-free.

It imports nothing from Django so a second process (spawned, sharing no database
connection) can run it for big files while the first one writes.
"""

import itertools
import multiprocessing
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from postroom.imports.detect import Layout
from postroom.imports.reader import Reader
from postroom.imports.rows import Contact, Rejection, RowParser

BATCH = 10000
# Files this big are read and validated by a second process while the first writes.
PARALLEL_FROM_BYTES = 8 * 1024 * 1024


class SeenAddresses:
    """Addresses met so far in this file and the line each was first met on, on disk:
    a duplicate check in flat memory.

    Asked a batch at a time: one INSERT per address cost ~4 µs, a batch through
    a scratch table and two set-based statements well under 1 µs an address.
    """

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="postroom-import-")
        self._db = sqlite3.connect(Path(self._dir.name) / "seen.sqlite3", isolation_level=None)
        self._db.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-8000;"
            "CREATE TABLE seen (email TEXT PRIMARY KEY, line INTEGER, part INTEGER) WITHOUT ROWID;"
            "CREATE TEMP TABLE batch (email TEXT PRIMARY KEY, line INTEGER, part INTEGER)"
            " WITHOUT ROWID; BEGIN;"
        )

    def first_seen(self, contacts: list[Contact]) -> list[tuple[int, int] | None]:
        """For each contact in order: None the first time its address is met (here or in
        an earlier batch), else (part, line) of the row that had it first."""
        first: dict[str, Contact] = {}
        for contact in contacts:
            if contact.email not in first:
                first[contact.email] = contact
        db = self._db
        db.execute("DELETE FROM batch")
        db.executemany(
            "INSERT INTO batch VALUES (?, ?, ?)",
            [(e, first[e].line, first[e].part) for e in sorted(first)],
        )
        known = {
            email: (part, line)
            for email, part, line in db.execute(
                "SELECT email, seen.part, seen.line FROM batch JOIN seen USING (email)"
            )
        }
        db.execute("INSERT OR IGNORE INTO seen SELECT email, line, part FROM batch")
        result: list[tuple[int, int] | None] = []
        for contact in contacts:
            earlier = known.get(contact.email)
            if earlier is None:
                met = first[contact.email]
                earlier = None if met is contact else (met.part, met.line)
            result.append(earlier)
        return result

    def close(self) -> None:
        self._db.close()
        self._dir.cleanup()


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
    """Parsed batches: read here for small files, by a second process for big ones."""
    # A daemonic process (a worker started by `postroom run`) may not start another.
    if size < PARALLEL_FROM_BYTES or multiprocessing.current_process().daemon:
        yield from _read(path, layout, skip)
        return
    context = multiprocessing.get_context("spawn")  # no inherited database connections
    receiver, sender = context.Pipe(duplex=False)
    reader = context.Process(target=_produce, args=(path, layout, skip, sender), daemon=True)
    reader.start()
    sender.close()
    try:
        while True:
            try:
                kind, payload = receiver.recv()
            except EOFError:
                raise OSError("the process reading the file died") from None
            if kind == "done":
                return
            if kind == "error":
                raise OSError(payload)
            packed, rejections, duplicates, records, position, late, listed = payload
            unpack = Contact.unpack
            contacts = [unpack(fields) for fields in packed]
            late_left = [unpack(fields) for fields in late]
            yield Batch(contacts, rejections, duplicates, records, position, late_left, listed)
    finally:
        receiver.close()
        if reader.is_alive():
            reader.terminate()
        reader.join()


def _produce(path: Path, layout: dict, skip: int, sender) -> None:
    """The reading process: validation and de-duplication run here, on the other core."""
    try:
        for batch in _read(path, layout, skip):
            packed = [c.pack() for c in batch.contacts]
            late = [c.pack() for c in batch.late_left]
            payload = (
                packed,
                batch.rejections,
                batch.duplicates,
                batch.records,
                batch.position,
                late,
                batch.duplicate_rows,
            )
            sender.send(("batch", payload))
        sender.send(("done", None))
    except Exception as exc:  # reported by the writing process, which records it
        sender.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        sender.close()


class Parsed:
    """Every row of every part of a layout (the files of an archive, in order), parsed,
    and how far the bytes went over all of them."""

    def __init__(self, path: Path, layout: Layout) -> None:
        self.path = path
        self.parts = layout.parts()
        self.done = 0
        self.reader: Reader | None = None

    @property
    def position(self) -> int:
        return self.done + (self.reader.position if self.reader else 0)

    def files(self) -> list[Path]:
        return [Path(part.path) if part.path else self.path for part in self.parts]

    def __iter__(self) -> Iterator[Contact | Rejection]:
        named = len(self.parts) > 1
        for index, (part, file) in enumerate(zip(self.parts, self.files(), strict=True)):
            parse = RowParser(part, index).parse
            prefix = f"{part.member}: " if named and part.member else ""
            with Reader(file, part) as reader:
                self.reader = reader
                for record in reader:
                    result = parse(record)
                    if prefix and isinstance(result, Rejection):
                        result.reason = prefix + result.reason
                    yield result
            self.reader = None
            self.done += file.stat().st_size


def _read(path: Path, layout_data: dict, skip: int) -> Iterator[Batch]:
    seen = SeenAddresses()
    try:
        yield from _batches(Parsed(path, Layout.from_dict(layout_data)), seen, skip)
    finally:
        seen.close()


def _batches(parsed: Parsed, seen: SeenAddresses, skip: int):
    """Batches of parsed rows; the first `skip` records (already committed) only feed `seen`."""
    results_in = iter(parsed)
    committed: list[Contact] = []
    for result in itertools.islice(results_in, skip):
        if isinstance(result, Contact):
            committed.append(result)
            if len(committed) >= BATCH:
                seen.first_seen(committed)
                committed = []
    if committed:
        seen.first_seen(committed)
    results: list[Contact | Rejection] = []
    for result in results_in:
        results.append(result)
        if len(results) >= BATCH:
            yield _batch(results, seen, parsed.position)
            results = []
    if results:
        yield _batch(results, seen, parsed.position)


def _batch(results: list[Contact | Rejection], seen: SeenAddresses, position: int) -> Batch:
    """One batch in file order: contacts met for the first time, rejections, duplicates."""
    contacts = [r for r in results if isinstance(r, Contact)]
    rejections = [r for r in results if not isinstance(r, Contact)]
    fresh: list[Contact] = []
    late_left: list[Contact] = []
    duplicates: list[Duplicate] = []
    for contact, earlier in zip(contacts, seen.first_seen(contacts), strict=True):
        if earlier is None:
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
                earlier[1],
                earlier[0],
                contact.raw,
                contact.cells,
                applied,
            )
        )
    return Batch(fresh, rejections, len(duplicates), len(results), position, late_left, duplicates)
