"""The import wizard (upload → preview & mapping → run with progress → report), history, export."""

from pathlib import Path

from django import forms
from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from postroom.audience.models import MailingList, Segment
from postroom.audience.services import create_list
from postroom.errors import NotAllowed, PostroomError
from postroom.imports import export, services
from postroom.imports.detect import (
    DELIMITER_NAMES,
    Layout,
)
from postroom.imports.models import Import
from postroom.imports.tools import TARGET_LABELS
from postroom.web.permissions import OperatorRequest, operator_required

STATUS_CHOICES = [
    ("", _("As the file says (its status columns, or the kind of export)")),
    ("subscribed", _("Subscribed: nobody in it left")),
    ("pending", _("Pending: they have not confirmed yet (double opt-in lists)")),
    ("unsubscribed", _("Unsubscribed")),
    ("bounced", _("Bounced: suppress these addresses")),
    ("blocklisted", _("Blocklisted")),
    ("complained", _("Complained (marked as spam): blocklist them")),
]
# The preview's mapping choices: the subscriber's fields, then what other tools export.
TARGETS = [
    ("email", "email address"),
    ("name", "name"),
    ("first_name", "first name"),
    ("last_name", "last name"),
    *TARGET_LABELS.items(),
    ("ignore", "ignore"),
]
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "cp1252", "latin-1", "iso8859-15", "mac-roman"]


class UploadForm(forms.Form):
    file = forms.FileField(
        label=_("File"),
        help_text=_(
            "CSV, .xlsx or .ods (the first sheet), or a ZIP of CSV files, such as the "
            "audience export of Mailchimp."
        ),
    )
    lists = forms.ModelMultipleChoiceField(
        queryset=MailingList.objects.all(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label=_("Lists"),
        help_text=_("Everyone imported is subscribed to these lists."),
    )
    new_list = forms.CharField(
        max_length=200,
        required=False,
        label=_("Or a new list"),
        help_text=_("Created with this import (single opt-in, private; change it later)."),
    )
    mode = forms.ChoiceField(
        choices=Import.Mode.choices, initial=Import.Mode.SUBSCRIBE, label=_("Mode")
    )
    confirmed = forms.BooleanField(
        required=False,
        label=_("They already confirmed their consent"),
        help_text=_("Otherwise double opt-in lists wait for a confirmation."),
    )
    status = forms.ChoiceField(
        choices=STATUS_CHOICES,
        required=False,
        label=_("Status of everyone whose row gives none"),
        help_text=_(
            "Exports of Mailchimp, listmonk, Keila, Sendy, Brevo, MailerLite and "
            "Substack are recognised: people who left there are never made mailable here."
        ),
    )
    resubscribe = forms.BooleanField(
        required=False,
        label=_("Subscribe again people who had unsubscribed"),
        help_text=_(
            "Only when they asked to come back. Never for bounces, complaints or "
            "blocklisted addresses. Your name and the time are kept with this import."
        ),
    )


class ExportForm(forms.Form):
    list = forms.ModelChoiceField(
        queryset=MailingList.objects.all(), required=False, label=_("List")
    )
    segment = forms.ModelChoiceField(
        queryset=Segment.objects.all(), required=False, label=_("Segment")
    )


def _import(import_id: int) -> Import:
    try:
        return Import.objects.get(pk=import_id)
    except Import.DoesNotExist:
        raise Http404("No such import") from None


@operator_required
def index(request: OperatorRequest) -> HttpResponse:
    imports = request.access.imports(
        Import.objects.select_related("created_by").prefetch_related("lists")
    )[:100]
    return render(
        request, "web/imports/index.html", {"imports": imports, "export_form": ExportForm()}
    )


# The upload of a form that came back with an error, so nobody has to choose the file again.
KEPT_UPLOAD = "import_kept_upload"


def _kept_upload(request: HttpRequest) -> dict | None:
    """The file kept from this person's last refused form, if it is still there."""
    kept = request.session.get(KEPT_UPLOAD)
    if not isinstance(kept, dict):
        return None
    path = Path(str(kept.get("path", "")))
    if path.parent.resolve() != services.upload_dir().resolve() or not path.is_file():
        request.session.pop(KEPT_UPLOAD, None)
        return None
    return {"path": path, "name": str(kept.get("name", path.name))}


def _keep_upload(request: HttpRequest, path: Path, name: str) -> None:
    request.session[KEPT_UPLOAD] = {"path": str(path), "name": name}


def _forget_upload(request: HttpRequest, delete: bool) -> None:
    kept = _kept_upload(request)
    request.session.pop(KEPT_UPLOAD, None)
    if kept and delete:
        kept["path"].unlink(missing_ok=True)


@operator_required
def new(request: OperatorRequest) -> HttpResponse:
    """Step 1. A form refused for its choices keeps the file; a list can be created here."""
    kept = _kept_upload(request) if request.method == "POST" else None
    if request.method == "GET":
        _forget_upload(request, delete=True)
    form = UploadForm(request.POST or None, request.FILES or None)
    form.fields["file"].required = kept is None
    form.fields["lists"].queryset = request.access.lists()  # type: ignore[attr-defined]
    if not MailingList.objects.exists():
        form.fields[
            "new_list"
        ].help_text = "There is no list yet: name one and it is created with this import."
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is not None:  # a new file replaces a kept one
            _forget_upload(request, delete=True)
            path = services.store_upload(upload.chunks(), upload.name or "")
            kept = {"path": path, "name": upload.name}
        if form.is_valid():
            imp = _prepare(request, form, kept) if kept else None
            if imp is not None:
                request.session.pop(KEPT_UPLOAD, None)
                return redirect("import_detail", imp.pk)
        if kept and kept["path"].is_file():
            _keep_upload(request, kept["path"], kept["name"])
        else:
            kept = None
    status = 400 if form.errors else 200
    return render(
        request,
        "web/imports/new.html",
        {"form": form, "kept": kept, "has_lists": MailingList.objects.exists()},
        status=status,
    )


def _prepare(request: OperatorRequest, form: "UploadForm", kept: dict) -> Import | None:
    """The draft import, or None with the form's errors said (the file kept when only a
    choice was wrong, deleted when the file itself was refused)."""
    data = form.cleaned_data
    lists = list(data["lists"])
    new_list = data["new_list"].strip()
    try:
        if new_list:
            request.access.check_new_list()
        else:
            request.access.check_lists(lists)
    except NotAllowed as exc:
        form.add_error("new_list" if new_list else "lists", str(exc))
        return None
    if data["mode"] == Import.Mode.SUBSCRIBE and not lists and not new_list:
        form.add_error(
            "lists" if MailingList.objects.exists() else "new_list",
            "Choose at least one list to subscribe them to, or name a new one.",
        )
        return None
    try:
        with transaction.atomic():  # a refused file leaves no new list behind
            if new_list:
                try:
                    lists.append(create_list(new_list))
                except PostroomError as exc:
                    form.add_error("new_list", str(exc))
                    return None
            return services.prepare(
                kept["path"],
                file_name=kept["name"],
                lists=lists,
                mode=data["mode"],
                confirmed=data["confirmed"],
                user=request.user,
                status=data["status"] or None,
                resubscribe=data["resubscribe"],
            )
    except PostroomError as exc:
        kept["path"].unlink(missing_ok=True)  # refused as a whole: nothing kept
        form.add_error(None, f"This file cannot be imported: {exc}.")
        return None


@operator_required
def detail(request: HttpRequest, import_id: int) -> HttpResponse:
    imp = _import(import_id)
    layout = Layout.from_dict(imp.layout)
    upload = Path(imp.file_path)
    context: dict = {
        "imp": imp,
        "lists": imp.lists.all(),
        "parts": layout.parts() if layout.members else [],
        "recognised": services.recognised(imp) if imp.status == Import.Status.DRAFT else [],
        "said": services.recognised(imp, imp.states, future=False) if imp.states else [],
        # A sheet's or archive's file_size is that of its text, which progress counts.
        "upload_size": upload.stat().st_size if upload.is_file() else imp.file_size,
    }
    if imp.status == Import.Status.DRAFT:
        context.update(
            layout=layout,
            targets=TARGETS,
            columns=_columns(layout),
            samples=services.sample_rows(imp, limit=10),
            encodings=_choices(ENCODINGS, layout.encoding),
            delimiters=[(d, gettext(name)) for d, name in DELIMITER_NAMES.items()],
            delimiter_name=(
                gettext(DELIMITER_NAMES[layout.delimiter])
                if layout.delimiter in DELIMITER_NAMES
                else layout.delimiter
            ),
        )
    else:
        context.update(
            rejected_rows=imp.rejected_rows.all()[:200],
            duplicate_rows=imp.duplicate_rows.all()[:200],
            repaired_rows=imp.repaired_rows.all()[:50],
        )
    return render(request, "web/imports/detail.html", context)


def _columns(layout: Layout) -> list[dict]:
    """Each column with its mapping choices; attributes keep their key."""
    result = []
    for column, mapped in zip(layout.columns, layout.mapping, strict=True):
        attribute = mapped[5:] if mapped.startswith("attr:") else ""
        result.append({"name": column, "mapped": mapped, "attribute": attribute})
    return result


def _choices(names: list[str], current: str) -> list[str]:
    return names if current in names else [current, *names]


@operator_required
@require_POST
def mapping(request: HttpRequest, import_id: int) -> HttpResponse:
    """Re-read a draft with the settings chosen in the preview."""
    imp = _import(import_id)
    layout = Layout.from_dict(imp.layout)
    if layout.members:
        messages.error(
            request,
            _("The files of an archive are read as detected; import one alone to map it."),
        )
        return redirect("import_detail", imp.pk)
    overrides = {
        str(index + 1): request.POST.get(f"map-{index}", "") for index in range(len(layout.columns))
    }
    try:
        services.remap(
            imp,
            encoding=request.POST.get("encoding") or None,
            delimiter=request.POST.get("delimiter") or None,
            mapping=overrides if request.POST.get("delimiter") == layout.delimiter else None,
        )
    except PostroomError as exc:
        messages.error(
            request, _("These settings cannot read the file: %(reason)s.") % {"reason": exc}
        )
    else:
        messages.success(request, _("Settings applied; check the rows below."))
    return redirect("import_detail", imp.pk)


@operator_required
def counts(request: HttpRequest, import_id: int) -> HttpResponse:
    """The dry run over the whole file, loaded after the preview page (it reads everything)."""
    imp = _import(import_id)
    try:
        result = services.preview(imp)
    except PostroomError as exc:
        return HttpResponse(f'<p class="error">{exc}</p>', status=400)
    said = services.recognised(imp, result["states"])
    return render(request, "web/imports/_counts.html", {"counts": result, "imp": imp, "said": said})


@operator_required
@require_POST
def start(request: HttpRequest, import_id: int) -> HttpResponse:
    imp = _import(import_id)
    try:
        services.start(imp)
    except PostroomError as exc:
        messages.error(request, str(exc))
    return redirect("import_detail", imp.pk)


@operator_required
@require_POST
def discard(request: HttpRequest, import_id: int) -> HttpResponse:
    imp = _import(import_id)
    try:
        services.discard_draft(imp)
    except PostroomError:
        messages.error(request, _("Only an import that has not started can be discarded."))
        return redirect("import_detail", imp.pk)
    messages.success(request, _("Import discarded; nothing was written."))
    return redirect("imports")


@operator_required
def progress(request: OperatorRequest, import_id: int) -> HttpResponse:
    """The live part of a running import, polled by htmx; a finished one reloads the page."""
    imp = _import(import_id)
    response = render(request, "web/imports/_progress.html", {"imp": imp})
    if not imp.is_active and request.htmx:
        response["HX-Refresh"] = "true"
    return response


@operator_required
def rejects(request: HttpRequest, import_id: int) -> HttpResponse:
    imp = _import(import_id)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{imp.pk}-rejected.csv"'
    services.write_rejects(imp, response)
    return response


@operator_required
def export_csv(request: HttpRequest) -> HttpResponseBase:
    form = ExportForm(request.GET or None)
    if not form.is_valid():
        raise Http404("No such list or segment")
    mailing_list, segment = form.cleaned_data.get("list"), form.cleaned_data.get("segment")
    qs = export.subscribers_for(mailing_list, segment)
    name = "subscribers"
    if mailing_list:
        name += f"-list-{mailing_list.pk}"
    if segment:
        name += f"-segment-{segment.pk}"
    response = StreamingHttpResponse(export.stream_csv(qs), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.csv"'
    return response
