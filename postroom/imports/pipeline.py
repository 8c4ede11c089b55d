"""Reading side of an import: file → validated, de-duplicated batches, Django-free.

It imports nothing from Django so a second process (spawned, sharing no database
connection) can run it for big files while the first one writes.
"""

import multiprocessing
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from postroom.imports.detect import Layout
from postroom.imports.reader import Reader
from postroom.imports.rows import Contact, Rejection, RowParser

BATCH = 10000
# Files this big are read and validated by a second process while the first writes.
PARALLEL_FROM_BYTES = 8 * 1024 * 1024


class SeenAddresses:
    """Addresses met so far in this file, on disk: a duplicate check in flat memory."""

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="postroom-import-")
        self._db = sqlite3.connect(Path(self._dir.name) / "seen.sqlite3", isolation_level=None)
        self._db.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-8000;"
            "CREATE TABLE seen (email TEXT PRIMARY KEY) WITHOUT ROWID; BEGIN;"
        )
        self._insert = "INSERT OR IGNORE INTO seen VALUES (?)"

    def add(self, email: str) -> bool:
        """True the first time an address is met."""
        return self._db.execute(self._insert, (email,)).rowcount == 1

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
            packed, rejections, duplicates, records, position = payload
            contacts = [Contact(*fields) for fields in packed]
            yield Batch(contacts, rejections, duplicates, records, position)
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
            sender.send(
                (
                    "batch",
                    (packed, batch.rejections, batch.duplicates, batch.records, batch.position),
                )
            )
        sender.send(("done", None))
    except Exception as exc:  # reported by the writing process, which records it
        sender.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        sender.close()


def _read(path: Path, layout_data: dict, skip: int) -> Iterator[Batch]:
    layout = Layout.from_dict(layout_data)
    seen = SeenAddresses()
    try:
        with Reader(path, layout) as reader:
            yield from _batches(reader, RowParser(layout), seen, skip)
    finally:
        seen.close()


def _batches(reader: Reader, parser: RowParser, seen: SeenAddresses, skip: int):
    """Batches of parsed rows; the first `skip` records (already committed) only feed `seen`."""
    contacts: list[Contact] = []
    rejections: list[Rejection] = []
    duplicates = records = 0
    parse, add = parser.parse, seen.add
    for index, record in enumerate(reader):
        result = parse(record)
        if index < skip:
            if isinstance(result, Contact):
                add(result.email)
            continue
        records += 1
        if isinstance(result, Rejection):
            rejections.append(result)
        elif add(result.email):
            contacts.append(result)
        else:
            duplicates += 1
        if records >= BATCH:
            yield Batch(contacts, rejections, duplicates, records, reader.position)
            contacts, rejections, duplicates, records = [], [], 0, 0
    if records:
        yield Batch(contacts, rejections, duplicates, records, reader.position)
