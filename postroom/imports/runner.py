"""Run an import: stream the file, validate, de-duplicate, write in batches, keep the record.

Every batch commits together with the Import record's counts and resume point
(`rows_done`), so the database never holds part of an import without the record
saying how far it got; after a crash the import resumes from that point.
De-duplication inside the file uses a throwaway SQLite file rather than a Python
set, so memory stays flat however many addresses the file holds.
"""

import sqlite3
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from postroom.imports.detect import Layout
from postroom.imports.models import Import, RejectedRow, RepairedRow
from postroom.imports.reader import Reader
from postroom.imports.rows import Contact, Rejection, RowParser
from postroom.imports.upsert import Upserter

BATCH = 10000
Progress = Callable[[Import], None]


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


def run_import(imp: Import, *, dry_run: bool = False, progress: Progress | None = None) -> Import:
    """Import (or, with dry_run, only count) the file of `imp`, resuming after rows_done.

    A dry run writes nothing at all, not even the record; its counts are on the
    returned (unsaved) object.
    """
    if dry_run:
        for key in (*Import.COUNT_FIELDS, "repaired", "suppressed", "rows_done"):
            setattr(imp, key, 0)
    layout = Layout.from_dict(imp.layout)
    parser = RowParser(layout)
    upserter = Upserter(imp.mode, list(imp.lists.all()), imp.confirmed, dry_run=dry_run)
    seen = SeenAddresses()
    skip = imp.rows_done
    try:
        with Reader(Path(imp.file_path), layout) as reader:
            for batch in _batches(reader, parser, seen, skip):
                outcome = upserter.apply(batch.contacts)
                if dry_run:
                    _count(imp, batch, outcome)
                    imp.bytes_done = batch.position
                else:
                    with transaction.atomic():
                        _count(imp, batch, outcome)
                        _save_batch(imp, batch, outcome)
                if progress:
                    progress(imp)
    finally:
        seen.close()
    return imp


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


def _count(imp: Import, batch: Batch, outcome) -> None:
    imp.rows += batch.records
    imp.rows_done += batch.records
    imp.created += outcome.created
    imp.updated += outcome.updated
    imp.unchanged += outcome.unchanged
    imp.duplicates += batch.duplicates
    imp.rejected += len(batch.rejections) + len(outcome.rejections)
    imp.suppressed += len(outcome.rejections)
    rejected_lines = {r.line for r in outcome.rejections}
    imp.repaired += sum(1 for c in batch.contacts if c.repair and c.line not in rejected_lines)


def _save_batch(imp: Import, batch: Batch, outcome) -> None:
    rejected = sorted(batch.rejections + outcome.rejections, key=lambda r: r.line)
    RejectedRow.objects.bulk_create(
        [RejectedRow(import_run=imp, line=r.line, raw=r.raw, reason=r.reason) for r in rejected]
    )
    rejected_lines = {r.line for r in outcome.rejections}
    RepairedRow.objects.bulk_create(
        [
            RepairedRow(import_run=imp, line=c.line, raw=c.raw, note=c.repair)
            for c in batch.contacts
            if c.repair and c.line not in rejected_lines
        ]
    )
    imp.bytes_done = batch.position
    imp.heartbeat_at = timezone.now()
    imp.save(
        update_fields=[
            *Import.COUNT_FIELDS,
            "repaired",
            "suppressed",
            "rows_done",
            "bytes_done",
            "heartbeat_at",
        ]
    )
