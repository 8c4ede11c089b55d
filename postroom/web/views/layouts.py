"""Layout screens: list, editor with preview, duplicate, delete."""

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from postroom.campaigns import gallery, layouts
from postroom.campaigns.forms import LayoutForm
from postroom.campaigns.models import Layout
from postroom.errors import InvalidInput, NotFound
from postroom.mail.errors import TemplateError
from postroom.web.permissions import operator_required


def _layout(layout_id: int) -> Layout:
    try:
        return layouts.get_layout(layout_id)
    except NotFound:
        raise Http404("No such layout") from None


def _problems(exc: InvalidInput) -> list[str]:
    return [str(p) for p in exc.problems] if isinstance(exc, TemplateError) else [str(exc)]


@operator_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    layouts.default_layout()  # so there is always one to start from
    stock = [(entry, gallery.added(entry)) for entry in gallery.GALLERY]
    return render(
        request, "web/campaigns/layouts.html", {"layouts": Layout.objects.all(), "gallery": stock}
    )


@operator_required
@require_POST
def gallery_add(request: HttpRequest, key: str) -> HttpResponse:
    """One of the gallery's layouts among the operator's own, to choose and edit."""
    try:
        layout = gallery.add_to_layouts(key)
    except NotFound:
        raise Http404("No such layout in the gallery") from None
    messages.success(request, _("“%(name)s” is among your layouts.") % {"name": layout.name})
    return redirect("layout_edit", layout.pk)


def _editor(request: HttpRequest, layout: Layout | None) -> HttpResponse:
    form = LayoutForm(request.POST or None, instance=layout)
    problems: list[str] = []
    if request.method == "POST" and form.is_valid():
        name, html = form.cleaned_data["name"], form.cleaned_data["html"]
        try:
            if layout is None:
                saved = layouts.create_layout(name, html)
            else:
                saved = layouts.update_layout(_layout(layout.pk), name, html)
            messages.success(request, _("Layout “%(name)s” saved.") % {"name": saved.name})
            return redirect("layout_edit", saved.pk)
        except InvalidInput as exc:
            problems = _problems(exc)
    preview = ""
    source = form.data.get("html") if form.is_bound else (layout.html if layout else "")
    if source and not problems:
        try:
            preview = layouts.preview_layout(source)
        except InvalidInput as exc:
            problems = _problems(exc)
    return render(
        request,
        "web/campaigns/layout_edit.html",
        {"form": form, "layout": layout, "problems": problems, "preview": preview},
        status=400 if request.method == "POST" and problems else 200,
    )


@operator_required
def new(request: HttpRequest) -> HttpResponse:
    if request.method == "GET" and not request.GET.get("blank"):
        # Start from the default layout rather than an empty page.
        form = LayoutForm(initial={"html": layouts.default_layout().html})
        preview = layouts.preview_layout(form.initial["html"])
        context: dict[str, Any] = {"form": form, "layout": None, "problems": [], "preview": preview}
        return render(request, "web/campaigns/layout_edit.html", context)
    return _editor(request, None)


@operator_required
def edit(request: HttpRequest, layout_id: int) -> HttpResponse:
    return _editor(request, _layout(layout_id))


@operator_required
@require_POST
def preview(request: HttpRequest) -> HttpResponse:
    """The layout being edited around sample content (an htmx fragment)."""
    context: dict = {"problems": [], "html": "", "text": "", "subject": ""}
    try:
        context["html"] = layouts.preview_layout(request.POST.get("html", ""))
    except InvalidInput as exc:
        context["problems"] = _problems(exc)
    return render(request, "web/campaigns/_preview.html", context)


@operator_required
@require_POST
def duplicate(request: HttpRequest, layout_id: int) -> HttpResponse:
    copy = layouts.duplicate_layout(_layout(layout_id))
    messages.success(request, _("Created “%(name)s”.") % {"name": copy.name})
    return redirect("layout_edit", copy.pk)


@operator_required
@require_POST
def delete(request: HttpRequest, layout_id: int) -> HttpResponse:
    layout = _layout(layout_id)
    try:
        layouts.delete_layout(layout)
    except InvalidInput as exc:
        messages.error(request, str(exc))
        return redirect("layout_edit", layout.pk)
    messages.success(request, _("Deleted “%(name)s”.") % {"name": layout.name})
    return redirect("layouts")
