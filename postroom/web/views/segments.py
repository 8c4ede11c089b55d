"""Segment screens: the saved segments with live counts, and the builder with a live count."""

import json

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from postroom.audience import builder, segments, services
from postroom.audience.models import Segment
from postroom.errors import InvalidInput, PostroomError
from postroom.web.permissions import operator_required


def _segment(segment_id: int) -> Segment:
    try:
        return Segment.objects.get(pk=segment_id)
    except Segment.DoesNotExist:
        raise Http404("No such segment") from None


@operator_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    rows = []
    for segment in Segment.objects.all():
        try:
            summary = segments.describe(segment.definition)
        except InvalidInput as exc:
            summary = f"broken: {exc}"
        rows.append((segment, summary))
    return render(request, "web/audience/segments.html", {"rows": rows})


@operator_required
@require_GET
def row_count(request: HttpRequest, segment_id: int) -> HttpResponse:
    """One segment's count, loaded by htmx after the page so the list shows at once."""
    segment = _segment(segment_id)
    try:
        text = f"{segments.subscribers_matching(segment.definition).count():,}"
    except InvalidInput:
        text = "—"
    return HttpResponse(text)


def _builder_context(match: str, rows: list, definition: dict | None, mode: str) -> dict:
    return {
        "match": match,
        "rows": rows or [builder.Row()],
        "definition_json": json.dumps(definition or {"all": []}, indent=2, ensure_ascii=False),
        "mode": mode,
        "fields": builder.field_choices(),
        "ops": builder.op_choices(),
    }


@operator_required
def edit(request: HttpRequest, segment_id: int | None = None) -> HttpResponse:
    segment = _segment(segment_id) if segment_id else None
    problem = ""
    if request.method == "POST":
        match, rows = builder.rows_from_post(request.POST)
        mode = "json" if request.POST.get("mode") == "json" else "rows"
        name = request.POST.get("name", "")
        description = request.POST.get("description", "")
        if "add_row" in request.POST or "remove_row" in request.POST:
            rows = _edit_rows(request.POST, rows)
            definition = None
        else:
            try:
                definition = builder.definition_from_post(request.POST)
                saved = services.save_segment(name, definition, description, segment)
            except PostroomError as exc:
                problem = str(exc)
                definition = None
            else:
                messages.success(request, _("Segment “%(name)s” saved.") % {"name": saved.name})
                return redirect("segment_edit", saved.pk)
    else:
        name = segment.name if segment else ""
        description = segment.description if segment else ""
        definition = segment.definition if segment else {"all": []}
        flat = builder.rows_from_definition(definition)
        mode = "rows" if flat and request.GET.get("mode") != "json" else "json"
        match, rows = flat or ("all", [])
    context = {
        "segment": segment,
        "name": name,
        "description": description,
        "problem": problem,
        **_builder_context(match, rows, definition, mode),
    }
    if mode == "json" and request.method == "POST":
        context["definition_json"] = request.POST.get("definition", "")
    return render(
        request, "web/audience/segment_edit.html", context, status=400 if problem else 200
    )


def _edit_rows(post, rows: list) -> list:
    if "add_row" in post:
        return [*rows, builder.Row()]
    index = post.get("remove_row", "")
    if index.isdigit() and int(index) < len(rows):
        return rows[: int(index)] + rows[int(index) + 1 :]
    return rows


@operator_required
@require_POST
def live_count(request: HttpRequest) -> HttpResponse:
    """The builder's live count: how many subscribers the form's definition matches now."""
    try:
        definition = builder.definition_from_post(request.POST)
        count = segments.subscribers_matching(definition).count()
    except InvalidInput as exc:
        return render(request, "web/audience/_segment_count.html", {"problem": str(exc)})
    return render(request, "web/audience/_segment_count.html", {"count": count})


@operator_required
def delete(request: HttpRequest, segment_id: int) -> HttpResponse:
    segment = _segment(segment_id)
    if request.method == "POST":
        try:
            services.delete_segment(segment)
        except PostroomError:
            messages.error(request, _("Campaigns use this segment; it cannot be deleted."))
            return redirect("segment_edit", segment.pk)
        messages.success(request, _("Segment “%(name)s” deleted.") % {"name": segment.name})
        return redirect("segments")
    return render(request, "web/audience/segment_delete.html", {"segment": segment})
