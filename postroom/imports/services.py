"""The import's life cycle, shared by the CLI, the UI and the delivery worker.

prepare() inspects a file and makes a draft record (nothing else is written: a
file that cannot be read is refused here); preview() dry-runs it; start()
queues it; execute() claims it with a conditional update and runs it to the end;
run_pending() is the worker step that picks one queued or crashed import.
"""

import csv
import heapq
import logging
import uuid
from collections.abc import Iterable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from postroom.audience.models import MailingList
from postroom.audience.services import resolve_lists
from postroom.errors import InvalidInput, NotFound
from postroom.imports import sources, texts, tools
from postroom.imports.detect import (
    FIELDS,
    REPORT_COLUMNS,
    Layout,
    detect,
    safeguard,
    target_field,
)
from postroom.imports.models import Import
from postroom.imports.pipeline import Parsed
from postroom.imports.rows import Contact, Rejection
from postroom.imports.runner import Progress, run_import
from postroom.storedtext import translated
from postroom.webhooks.events import emit

log = logging.getLogger(__name__)

# A running import whose heartbeat is older than this is taken to have crashed.
STALE_AFTER = timedelta(minutes=2)
MODES = [m.value for m in Import.Mode]


def upload_dir() -> Path:
    path = Path(settings.MEDIA_ROOT) / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def store_upload(chunks: Iterable[bytes], file_name: str) -> Path:
    """Save an uploaded file under MEDIA_ROOT/imports with a name nobody can guess."""
    suffix = Path(file_name).suffix.lower()[:10] if Path(file_name).suffix else ""
    path = upload_dir() / f"{uuid.uuid4().hex}{suffix}"
    with path.open("wb") as out:
        for chunk in chunks:
            out.write(chunk)
    return path


def prepare(
    path: Path,
    *,
    file_name: str = "",
    lists: Iterable[MailingList | str] = (),
    mode: str = "subscribe",
    confirmed: bool = False,
    encoding: str | None = None,
    delimiter: str | None = None,
    mapping: dict[str, str] | None = None,
    user=None,
    layout: Layout | None = None,
    status: str | None = None,
    resubscribe: bool = False,
    actor: str = "",
) -> Import:
    """Inspect the file and create a draft import; refuse (InvalidInput) before any write.

    `status` gives every row whose own columns say nothing a state (None: what the
    file says). `resubscribe` is the explicit override that subscribes again people
    who had unsubscribed; `actor` names who asked when there is no `user` (the CLI).
    """
    if mode not in MODES:
        raise InvalidInput(
            gettext("mode must be one of %(modes)s, not %(mode)s")
            % {"modes": ", ".join(MODES), "mode": repr(mode)}
        )
    resolved = resolve_lists(lists)
    if mode == "subscribe" and not resolved:
        raise InvalidInput(gettext("choose at least one list to subscribe the contacts to"))
    if not path.is_file():
        raise NotFound(gettext("no file %(path)s") % {"path": repr(str(path))})
    layout = layout or sources.inspect(
        path,
        upload_dir(),
        encoding=encoding,
        delimiter=delimiter,
        mapping=mapping,
        file_name=file_name or path.name,
        status=status,
    )
    try:
        safeguard(layout, mode)
    except InvalidInput:
        sources.remove_parts(layout)
        raise
    person = user if user is not None and user.is_authenticated else None
    with transaction.atomic():
        imp = Import.objects.create(
            file_name=file_name or path.name,
            file_path=str(path),
            file_size=sum(f.stat().st_size for f in Parsed(path, layout).files()),
            layout=layout.as_dict(),
            mode=mode,
            confirmed=confirmed,
            created_by=person,
        )
        imp.lists.set(resolved)
        if resubscribe:
            allow_resubscribe(imp, person.get_username() if person else actor)
    return imp


def allow_resubscribe(imp: Import, who: str) -> None:
    """The user's explicit override for this import, kept with it and logged: who, when."""
    if imp.status != Import.Status.DRAFT:
        raise InvalidInput(gettext("this import has already started; the override cannot change"))
    imp.resubscribe, imp.resubscribe_by, imp.resubscribe_at = True, who[:150], timezone.now()
    imp.save(update_fields=["resubscribe", "resubscribe_by", "resubscribe_at"])
    log.warning(
        "import %s of %r: %s chose to subscribe again people who had unsubscribed",
        imp.pk,
        imp.file_name,
        who or "someone",
    )


def recognised(imp: Import, states: dict | None = None, future: bool = True) -> list[str]:
    """What was recognised, in sentences: "Mailchimp unsubscribed export: 20 people
    will be imported as unsubscribed". Made when asked, never stored: in the active
    language (English for the CLI; the API asks for English)."""
    layout = Layout.from_dict(imp.layout)
    parts = layout.parts()
    recognised_parts = [translated(p.source) for p in parts if p.source]
    head = ""
    if len(parts) > 1:
        head = translated(layout.source) or gettext("%(count)s files in the archive") % {
            "count": len(parts)
        }
    elif recognised_parts:
        head = recognised_parts[0]
    elif layout.status:
        head = gettext("Status chosen for the rows that give none: %(status)s") % {
            "status": layout.status
        }
    lines = [head] if head and states is None else []
    counts = states if states is not None else {}
    said = [
        _imported_as(n, state, future)
        for state, n in sorted(counts.items(), key=lambda kv: tools.SEVERITY.get(kv[0], 9))
        if n
    ]
    if said:
        lines.append(
            gettext("%(what)s: %(counts)s")
            % {"what": head or gettext("This file"), "counts": "; ".join(said)}
        )
    return lines


def _imported_as(n: int, state: str, future: bool) -> str:
    label = tools.STATE_LABELS.get(state)
    values = {"count": n, "state": gettext(label) if label else state}
    if future:
        return (
            ngettext(
                "%(count)s person will be imported as %(state)s",
                "%(count)s people will be imported as %(state)s",
                n,
            )
            % values
        )
    return (
        ngettext(
            "%(count)s person was imported as %(state)s",
            "%(count)s people were imported as %(state)s",
            n,
        )
        % values
    )


def sample_rows(imp: Import, limit: int = 10) -> list[Contact | Rejection]:
    """The first rows as they will be stored (or why they will not), for the preview."""
    result: list[Contact | Rejection] = []
    for row in Parsed(Path(imp.file_path), Layout.from_dict(imp.layout)):
        result.append(row)
        if len(result) >= limit:
            break
    return result


def preview(imp: Import, progress: Progress | None = None) -> dict:
    """Counts of what the import would do, over the whole file, writing nothing."""
    shadow = Import.objects.get(pk=imp.pk)
    run_import(shadow, dry_run=True, progress=progress)
    keys = (*Import.COUNT_FIELDS, "repaired", "suppressed", "resubscribed", "states")
    return {key: getattr(shadow, key) for key in keys}


def relayout(imp: Import, layout: Layout) -> None:
    """Keep a draft's new mapping (from the preview form)."""
    if imp.status != Import.Status.DRAFT:
        raise InvalidInput(gettext("this import has already started; its mapping cannot change"))
    imp.layout = layout.as_dict()
    imp.save(update_fields=["layout"])


def remap(
    imp: Import,
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
    mapping: dict[str, str] | None = None,
) -> Layout:
    """Read a draft's file again with the settings chosen in the preview and keep them.

    `mapping` maps a column (its 1-based number) to a field or an attribute's key;
    it applies only when the delimiter stays, as the columns are those of this reading.
    """
    layout = Layout.from_dict(imp.layout)
    if layout.members:
        raise InvalidInput(
            gettext("the files of an archive are read as detected; import one alone")
        )
    overrides = {
        column: target_field(target) if target in FIELDS else target
        for column, target in (mapping or {}).items()
        if target
    }
    new_layout = detect(
        Path(layout.path or imp.file_path),
        encoding=encoding or None,
        delimiter=delimiter or None,
        mapping=overrides if (delimiter or layout.delimiter) == layout.delimiter else None,
        file_name=layout.file_name or imp.file_name,
        status=layout.status,
    )
    new_layout.path, new_layout.member = layout.path, layout.member
    safeguard(new_layout, imp.mode)
    relayout(imp, new_layout)
    return new_layout


def start(imp: Import) -> None:
    """Queue a draft (or a failed import, to resume it) for a delivery worker's `run_pending`."""
    updated = Import.objects.filter(
        pk=imp.pk, status__in=[Import.Status.DRAFT, Import.Status.FAILED]
    ).update(status=Import.Status.QUEUED, error="")
    if not updated:
        raise InvalidInput(
            gettext("import %(id)s is %(status)s; only a draft or a failed one starts")
            % {"id": imp.pk, "status": imp.status}
        )
    imp.refresh_from_db()


def claim(import_id: int) -> Import | None:
    """Take an import to run: queued, failed-and-restarted, or running but silent (crashed)."""
    now = timezone.now()
    stale = Q(status=Import.Status.RUNNING, heartbeat_at__lt=now - STALE_AFTER)
    claimable = Q(status=Import.Status.QUEUED) | stale
    rows = Import.objects.filter(claimable, pk=import_id)
    previous = rows.values_list("status", flat=True).first()
    if previous is None:
        return None
    if not rows.update(status=Import.Status.RUNNING, heartbeat_at=now, error=""):
        return None  # another worker took it first
    imp = Import.objects.get(pk=import_id)
    changes: dict[str, Any] = {}
    if imp.started_at is None:
        changes["started_at"] = now
    if imp.rows_done:
        changes["resumed"] = imp.resumed + 1
    if changes:
        Import.objects.filter(pk=import_id).update(**changes)
        imp.refresh_from_db()
    return imp


def execute(imp: Import, progress: Progress | None = None) -> Import:
    """Run a claimed import to the end and record how it ended."""
    try:
        run_import(imp, progress=progress)
    except (DatabaseError, OSError) as exc:
        log.exception("import %s stopped", imp.pk)
        _finish(imp, Import.Status.FAILED, _stopped_message(imp, exc))
        return imp
    except BaseException:
        _finish(imp, Import.Status.FAILED, _stopped_message(imp, None))
        raise
    _finish(imp, Import.Status.FINISHED, "")
    _discard_file(imp)
    return imp


def _stopped_message(imp: Import, exc: Exception | None) -> str:
    if exc is None:
        return texts.INTERRUPTED % {"row": imp.rows_done}
    return texts.STOPPED % {"row": imp.rows_done, "error": exc}


def _finish(imp: Import, status: str, error: str) -> None:
    imp.status, imp.error, imp.finished_at = status, error, timezone.now()
    Import.objects.filter(pk=imp.pk).update(status=status, error=error, finished_at=imp.finished_at)
    counts = ("rows", "created", "updated", "unchanged", "duplicates", "rejected")
    stored = Import.objects.filter(pk=imp.pk).values(*counts).first() or {}
    emit(
        "import.finished",
        {"id": imp.pk, "status": status, "error": error, "file_name": imp.file_name, **stored},
    )


def _discard_file(imp: Import) -> None:
    """Uploads are kept only to resume; the report lives in the database."""
    sources.remove_parts(Layout.from_dict(imp.layout))
    path = Path(imp.file_path)
    if path.parent == upload_dir() and path.exists():
        path.unlink()


def discard(imp: Import) -> None:
    """Forget a draft (or a dry run's record) and every file written for it."""
    sources.remove_parts(Layout.from_dict(imp.layout))
    imp.delete()


def discard_draft(imp: Import) -> None:
    """Discard an import that has not started, with its upload; nothing was written."""
    if imp.status != Import.Status.DRAFT:
        raise InvalidInput(gettext("only an import that has not started can be discarded"))
    Path(imp.file_path).unlink(missing_ok=True)
    discard(imp)


def run_pending() -> bool:
    """Run one queued or crashed import; False when there was none (the worker's step)."""
    now = timezone.now()
    candidates = Import.objects.filter(
        Q(status=Import.Status.QUEUED)
        | Q(status=Import.Status.RUNNING, heartbeat_at__lt=now - STALE_AFTER)
    ).order_by("created_at", "id")
    for import_id in candidates.values_list("pk", flat=True)[:5]:
        imp = claim(import_id)
        if imp is not None:
            execute(imp)
            return True
    return False


class Writable(Protocol):
    """Anything text can be written to: a file, stdout, an HttpResponse."""

    def write(self, text: str, /) -> object: ...


def write_rejects(imp: Import, out: Writable) -> None:
    """The rows not imported as CSV, so they can be fixed and imported again: the file's
    own columns as read, then the row's line and why (rejected, or a duplicate of an
    earlier row). A re-import ignores the last two columns (detect.REPORT_COLUMNS)."""
    parts = Layout.from_dict(imp.layout).parts()
    header: list[str] = list(dict.fromkeys(c for part in parts for c in part.columns))
    places = [[header.index(c) for c in part.columns] for part in parts]
    writer = csv.writer(out)
    writer.writerow([*header, *REPORT_COLUMNS])
    for part, line, cells, reason in heapq.merge(
        _rejected_rows(imp, parts), _duplicate_rows(imp, parts), key=lambda row: row[:2]
    ):
        where = places[part] if part < len(places) else []
        row = [""] * len(header)
        for i, cell in enumerate(cells):
            if i < len(where):
                row[where[i]] = cell
            else:
                row.append(cell)  # more fields than the header: kept, in order
        writer.writerow([*map(neutralise, row), line, reason])


def _rejected_rows(imp: Import, parts: list[Layout]) -> Iterator[tuple[int, int, list, str]]:
    rows = imp.rejected_rows.values_list("part", "line", "cells", "raw", "reason")
    for part, line, cells, raw, reason in rows.iterator():
        if not cells and raw and part < len(parts):  # kept before rows were: the value only
            cells = [""] * len(parts[part].columns)
            cells[parts[part].email_column] = raw
        yield part, line, cells, reason


def _duplicate_rows(imp: Import, parts: list[Layout]) -> Iterator[tuple[int, int, list, str]]:
    rows = imp.duplicate_rows.values_list(
        "part", "line", "cells", "first_part", "first_line", "applied"
    )
    for part, line, cells, first_part, first_line, applied in rows.iterator():
        yield part, line, cells, duplicate_reason(parts, part, first_part, first_line, applied)


def duplicate_reason(
    parts: list[Layout], part: int, first_part: int, first_line: int, applied: bool
) -> str:
    """Why a duplicate row was not imported on its own, naming the row it repeats."""
    if first_part != part and first_part < len(parts) and parts[first_part].member:
        text = texts.DUPLICATE_IN_MEMBER_APPLIED if applied else texts.DUPLICATE_IN_MEMBER
        return text % {"member": parts[first_part].member, "line": first_line}
    text = texts.DUPLICATE_APPLIED if applied else texts.DUPLICATE
    return text % {"line": first_line}


def neutralise(value: str) -> str:
    """Keep a spreadsheet from reading a cell as a formula (CSV injection)."""
    if value and value[0] in "=+-@\t\r":
        return "'" + value
    return value
