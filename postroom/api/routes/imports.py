"""/api/imports: the import wizard over HTTP — upload, mapping, dry run, start, progress,
report — through the imports' services, as the UI's wizard and `postroom import` do.

A file refused as a whole (unreadable, the wrong kind, people who left with no
status) is refused at the upload and nothing is kept.
"""

from typing import Literal

from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.translation import gettext
from ninja import Field, File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile

from postroom.api import scope
from postroom.api.errors import errors
from postroom.api.fields import Body
from postroom.api.pages import Id, Page, PageParams, keyset
from postroom.errors import NotFound, PostroomError
from postroom.imports import services
from postroom.imports.detect import Layout, parse_delimiter
from postroom.imports.models import Import
from postroom.imports.rows import Contact

router = Router(tags=["imports"])

Mode = Literal["subscribe", "update", "skip-existing", "blocklist"]
FileStatus = Literal[
    "subscribed", "pending", "unsubscribed", "bounced", "blocklisted", "complained"
]
CSV = {
    "responses": {
        200: {
            "description": "The rejected rows: line, reason, the row as it was",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    }
}


class UploadIn(Schema):
    lists: list[str] = Field(default_factory=list, description="list names to subscribe to")
    mode: Mode = "subscribe"
    confirmed: bool = Field(False, description="they already confirmed their consent")
    status: FileStatus | None = Field(None, description="for rows whose own columns say none")
    resubscribe: bool = Field(False, description="subscribe again people who had unsubscribed")
    encoding: str | None = Field(None, description="auto when not given")
    delimiter: str | None = Field(None, description="auto, ',', ';', tab or '|'")


class MappingIn(Body):
    encoding: str | None = None
    delimiter: str | None = None
    mapping: dict[str, str] | None = Field(
        None, description='column number → field or attribute key: {"1": "email", "3": "city"}'
    )


def _layout(imp: Import) -> dict:
    layout = Layout.from_dict(imp.layout)
    return {
        "encoding": layout.encoding,
        "delimiter": layout.delimiter,
        "columns": layout.columns,
        "mapping": layout.mapping,
        "status": layout.status or None,
        "files": len(layout.parts()),
    }


def _json(imp: Import) -> dict:
    return {
        **imp.summary(),
        "file_name": imp.file_name,
        "mode": imp.mode,
        "lists": [ml.name for ml in imp.lists.all()],
        "confirmed": imp.confirmed,
        "resubscribe": imp.resubscribe,
        "layout": _layout(imp),
        "progress": {
            "percent": imp.progress,
            "rows_done": imp.rows_done,
            "bytes_done": imp.bytes_done,
            "file_size": imp.file_size,
        },
        "created_at": imp.created_at.isoformat(),
        "started_at": imp.started_at.isoformat() if imp.started_at else None,
        "finished_at": imp.finished_at.isoformat() if imp.finished_at else None,
    }


def _import(import_id: int) -> Import:
    found = Import.objects.filter(pk=import_id).first()
    if found is None:
        raise NotFound(gettext("no import with id %(import_id)s") % {"import_id": import_id})
    return found


@router.get("", response={200: Page, **errors(400)})
def page(request: HttpRequest, paging: Query[PageParams]) -> dict:
    """Imports in id order (keyset pages)."""
    return keyset(Import.objects.prefetch_related("lists"), paging, _json)


@router.post("", response={201: dict, **errors(400, 403, 404)})
def upload(request: HttpRequest, data: Form[UploadIn], file: File[UploadedFile]):
    """Upload a file (CSV, .xlsx, .ods, a ZIP of CSV files): a draft with what was detected."""
    lists = scope.lists_to_mail(request, data.lists)
    path = services.store_upload(file.chunks(), file.name or "upload.csv")
    try:
        imp = services.prepare(
            path,
            file_name=file.name or "",
            lists=lists,
            mode=data.mode,
            confirmed=data.confirmed,
            encoding=data.encoding or None,
            delimiter=parse_delimiter(data.delimiter),
            user=request.user,
            status=data.status,
            resubscribe=data.resubscribe,
        )
    except PostroomError:
        path.unlink(missing_ok=True)  # refused as a whole: nothing kept
        raise
    return Status(201, _json(imp))


@router.get("/{import_id}", response={200: dict, **errors(404)})
def get(request: HttpRequest, import_id: Id) -> dict:
    """Status, counts and progress (poll it while it runs); the report once finished."""
    return _json(_import(import_id))


@router.get("/{import_id}/sample", response={200: list[dict], **errors(400, 404)})
def sample(request: HttpRequest, import_id: Id, limit: int = Query(10, ge=1, le=100)):
    """A draft's first rows as they would be stored, or why they would not."""
    rows = services.sample_rows(_import(import_id), limit)
    return [
        {"line": r.line, "email": r.email, "name": r.name, "repair": r.repair}
        if isinstance(r, Contact)
        else {"line": r.line, "rejected": r.reason, "raw": r.raw}
        for r in rows
    ]


@router.put("/{import_id}/mapping", response={200: dict, **errors(400, 404)})
def mapping(request: HttpRequest, import_id: Id, data: MappingIn) -> dict:
    """Read a draft again with another encoding, delimiter or column mapping."""
    imp = _import(import_id)
    services.remap(
        imp,
        encoding=data.encoding,
        delimiter=parse_delimiter(data.delimiter),
        mapping=data.mapping,
    )
    return _json(imp)


@router.post("/{import_id}/dry-run", response={200: dict, **errors(400, 404)})
def dry_run(request: HttpRequest, import_id: Id) -> dict:
    """What the import would do over the whole file, writing nothing."""
    imp = _import(import_id)
    counts = services.preview(imp)
    with translation.override("en"):  # the API speaks the stored English
        said = services.recognised(imp, counts["states"])
    return {**counts, "said": said}


@router.post("/{import_id}/start", response={200: dict, **errors(400, 404)})
def start(request: HttpRequest, import_id: Id) -> dict:
    """Queue a draft (or resume a failed import); a worker runs it."""
    imp = _import(import_id)
    services.start(imp)
    return _json(imp)


@router.delete("/{import_id}", response={204: None, **errors(400, 404)})
def discard(request: HttpRequest, import_id: Id):
    """Discard a draft and its file; nothing was written."""
    services.discard_draft(_import(import_id))
    return Status(204, None)


@router.get("/{import_id}/rejected", response={200: Page, **errors(404)})
def rejected(request: HttpRequest, import_id: Id, paging: Query[PageParams]) -> dict:
    """The report: each rejected row with its line in the file and the reason."""
    imp = _import(import_id)
    return keyset(
        imp.rejected_rows.all(),
        paging,
        lambda r: {"id": r.pk, "line": r.line, "reason": r.reason, "raw": r.raw},
    )


@router.get("/{import_id}/rejected.csv", response={200: None, **errors(404)}, openapi_extra=CSV)
def rejected_csv(request: HttpRequest, import_id: Id):
    imp = _import(import_id)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{imp.pk}-rejected.csv"'
    services.write_rejects(imp, response)
    return response
