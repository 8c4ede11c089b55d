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

from postroom.imports.detect import Layout
from postroom.imports.reader import Reader
from postroom.imports.rows import Contact, Rejection, RowParser

BATCH = 10000
# Files this big are read and validated by a second process while the first writes.
PARALLEL_FROM_BYTES = 8 * 1024 * 1024


class SeenAddresses:
    """Addresses met so far in this file, on disk: a duplicate check in flat memory.

    Asked a batch at a time: one INSERT per address cost ~4 µs, a batch through
    a scratch table and two set-based statements well under 1 µs an address.
    """

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="postroom-import-")
        self._db = sqlite3.connect(Path(self._dir.name) / "seen.sqlite3", isolation_level=None)
        self._db.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-8000;"
            "CREATE TABLE seen (email TEXT PRIMARY KEY) WITHOUT ROWID;"
            "CREATE TEMP TABLE batch (email TEXT PRIMARY KEY) WITHOUT ROWID; BEGIN;"
        )

    def first_times(self, emails: list[str]) -> list[bool]:
        """For each address in order: True the first time it is met (here or before)."""
        flags = [False] * len(emails)
        first: dict[str, int] = {}
        for index, email in enumerate(emails):
            if email not in first:
                first[email] = index
        db = self._db
        db.execute("DELETE FROM batch")
        db.executemany("INSERT INTO batch VALUES (?)", [(e,) for e in sorted(first)])
        known = {row[0] for row in db.execute("SELECT email FROM batch JOIN seen USING (email)")}
        db.execute("INSERT OR IGNORE INTO seen SELECT email FROM batch")
        for email, index in first.items():
            if email not in known:
                flags[index] = True
        return flags

    def close(self) -> None:
        self._db.close()
        self._dir.cleanup()


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
            packed, rejections, duplicates, records, position, late = payload
            unpack = Contact.unpack
            contacts = [unpack(fields) for fields in packed]
            late_left = [unpack(fields) for fields in late]
            yield Batch(contacts, rejections, duplicates, records, position, late_left)
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
        for part, file in zip(self.parts, self.files(), strict=True):
            parse = RowParser(part).parse
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
    committed: list[str] = []
    for result in itertools.islice(results_in, skip):
        if isinstance(result, Contact):
            committed.append(result.email)
            if len(committed) >= BATCH:
                seen.first_times(committed)
                committed = []
    if committed:
        seen.first_times(committed)
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
    first = seen.first_times([c.email for c in contacts])
    fresh = [c for c, is_first in zip(contacts, first, strict=True) if is_first]
    late = [c for c, is_first in zip(contacts, first, strict=True) if not is_first and c.status]
    late_left = [c for c in late if c.left]
    return Batch(fresh, rejections, len(contacts) - len(fresh), len(results), position, late_left)
