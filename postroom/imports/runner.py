"""Run an import: stream the file, validate, de-duplicate, write in batches, keep the record.

Every batch commits together with the Import record's counts and resume point
(`rows_done`), so the database never holds part of an import without the record
saying how far it got; after a crash the import resumes from that point.
The reading side (parsing, validation, de-duplication) is in pipeline.py.
"""

import contextlib
import gc
from collections.abc import Callable
from pathlib import Path

from django.db import connection, transaction
from django.utils import timezone

from postroom.imports.models import DuplicateRow, Import, RejectedRow, RepairedRow
from postroom.imports.pipeline import Batch, batches
from postroom.imports.upsert import Upserter

Progress = Callable[[Import], None]
IMPORT_CACHE = -32 * 1024  # SQLite's page cache during an import, in KiB


def run_import(imp: Import, *, dry_run: bool = False, progress: Progress | None = None) -> Import:
    """Import (or, with dry_run, only count) the file of `imp`, resuming after rows_done.

    A dry run writes nothing at all, not even the record; its counts are on the
    returned (unsaved) object.
    """
    if dry_run:
        for key in (*Import.COUNT_FIELDS, "repaired", "suppressed", "rows_done", "resubscribed"):
            setattr(imp, key, 0)
        imp.states = {}
    upserter = Upserter(
        imp.mode,
        list(imp.lists.all()),
        imp.confirmed,
        dry_run=dry_run,
        resubscribe=imp.resubscribe,
    )
    with _rare_checkpoints(enabled=not dry_run), _rare_collections():
        _run(imp, upserter, dry_run, progress)
    return imp


@contextlib.contextmanager
def _rare_collections():
    """Fewer cyclic garbage collections, none over what was loaded before the import.

    An import makes and drops tens of thousands of row tuples a batch, none of them
    in a cycle; with the default thresholds the collector ran ~1,800 times for
    300,000 rows and took 2.2 of the importing process's 12.9 CPU seconds, mostly
    walking Django's own objects again and again (frozen here, so never walked).
    """
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


@contextlib.contextmanager
def _rare_checkpoints(enabled: bool):
    """On SQLite, let the WAL grow to ~80 MB before copying pages back, and keep 32 MB
    of pages in memory: an import inserts into the unique indexes (email, email_hash)
    in random order, so each batch rewrites pages all over them, and each checkpoint
    copies them again (measured on 500,000 rows: 12 instead of 14 CPU seconds, noisy;
    1,000,000 rows into a fresh table with batches of 50,000: 23 s of SQLite CPU with
    64 MB instead of 30 with the default 2 MB)."""
    if not enabled or connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        (cache,) = cursor.fetchone()
        cursor.execute("PRAGMA wal_autocheckpoint=20000")
        cursor.execute(f"PRAGMA cache_size={IMPORT_CACHE}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_autocheckpoint=1000")
            cursor.execute(f"PRAGMA cache_size={int(cache)}")


def _run(imp: Import, upserter: Upserter, dry_run: bool, progress: Progress | None) -> None:
    for batch in batches(Path(imp.file_path), imp.layout, imp.rows_done, imp.file_size):
        if dry_run:
            _count(imp, batch, upserter.apply(batch.contacts))
            imp.bytes_done = batch.position
        else:
            # The batch's writes and the record's resume point commit together.
            with transaction.atomic():
                outcome = upserter.apply(batch.contacts)
                if batch.late_left:
                    upserter.leave(batch.late_left)  # counted as duplicates already
                _count(imp, batch, outcome)
                _save_batch(imp, batch, outcome)
        if progress:
            progress(imp)


def _count(imp: Import, batch: Batch, outcome) -> None:
    imp.rows += batch.records
    imp.rows_done += batch.records
    imp.created += outcome.created
    imp.updated += outcome.updated
    imp.unchanged += outcome.unchanged
    imp.duplicates += batch.duplicates
    imp.rejected += len(batch.rejections) + len(outcome.rejections)
    imp.suppressed += len(outcome.rejections)
    imp.resubscribed += outcome.resubscribed
    states = dict(imp.states or {})
    for state, n in outcome.states.items():
        states[state] = states.get(state, 0) + n
    imp.states = states
    rejected_lines = {r.line for r in outcome.rejections}
    imp.repaired += sum(1 for c in batch.contacts if c.repair and c.line not in rejected_lines)


def _save_batch(imp: Import, batch: Batch, outcome) -> None:
    rejected = sorted(batch.rejections + outcome.rejections, key=lambda r: (r.part, r.line))
    RejectedRow.objects.bulk_create(
        [
            RejectedRow(
                import_run=imp,
                line=r.line,
                raw=r.raw,
                reason=r.reason,
                cells=list(r.cells),
                part=r.part,
            )
            for r in rejected
        ]
    )
    DuplicateRow.objects.bulk_create(
        [
            DuplicateRow(
                import_run=imp,
                line=d.line,
                part=d.part,
                first_line=d.first_line,
                first_part=d.first_part,
                raw=d.raw,
                cells=list(d.cells),
                applied=d.applied,
            )
            for d in batch.duplicate_rows
        ]
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
            "resubscribed",
            "states",
            "rows_done",
            "bytes_done",
            "heartbeat_at",
        ]
    )
