"""Transactional mail: the log of messages, one message, and the stored templates."""

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from postroom.errors import InvalidInput, NotFound
from postroom.integers import as_id
from postroom.transactional import services, templates
from postroom.transactional.forms import TxTemplateForm
from postroom.transactional.models import TxTemplate
from postroom.web.permissions import operator_required

PAGE_SIZE = 50
STATUSES = ("queued", "sent", "failed", "in_doubt")


@operator_required
@require_GET
def log(request: HttpRequest) -> HttpResponse:
    """Newest first, by status and recipient, each with the server's reply or the reason."""
    status = request.GET.get("status", "")
    status = status if status in STATUSES else ""
    query = request.GET.get("q", "").strip()
    before = as_id(request.GET.get("before", "")) or 0
    rows = list(services.log(status or None, query, before)[: PAGE_SIZE + 1])
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    context = {
        "rows": [(m, services.status(m)) for m in rows],
        "status": status,
        "q": query,
        "statuses": STATUSES,
        "next_before": rows[-1].pk if more else None,
        "first_page": not before,
        "counts": services.counts(),
        "streams": services.streams_in_doubt(),
    }
    return render(request, "web/transactional/log.html", context)


@operator_required
@require_GET
def detail(request: HttpRequest, tx_id: int) -> HttpResponse:
    try:
        message = services.get_message(tx_id)
    except NotFound:
        raise Http404("No such message") from None
    context = {
        "message": message,
        "status": services.status(message),
        "attachments": list(message.attachments.values("filename", "content_type", "size")),
    }
    return render(request, "web/transactional/detail.html", context)


@operator_required
@require_GET
def template_list(request: HttpRequest) -> HttpResponse:
    rows = TxTemplate.objects.select_related("layout", "sender")
    return render(request, "web/transactional/templates.html", {"templates": rows})


def _editor(request: HttpRequest, template: TxTemplate | None) -> HttpResponse:
    if request.method == "POST":
        form = TxTemplateForm(request.POST)
    else:
        form = TxTemplateForm(initial=TxTemplateForm.initial_for(template) if template else None)
    problems: list[str] = []
    if request.method == "POST" and form.is_valid():
        fields = dict(form.cleaned_data)
        fields["layout"] = fields["layout"] or None
        fields["sender"] = fields["sender"] or None
        try:
            saved = templates.update(template, **fields) if template else templates.create(**fields)
        except InvalidInput as exc:
            problems = [str(p) for p in getattr(exc, "problems", [])] or [str(exc)]
        else:
            messages.success(
                request,
                _("Template “%(name)s” saved (id %(id)s).") % {"name": saved.name, "id": saved.pk},
            )
            return redirect("tx_template_edit", saved.pk)
    return render(
        request,
        "web/transactional/template_edit.html",
        {"form": form, "template": template, "problems": problems},
        status=400 if request.method == "POST" and (problems or form.errors) else 200,
    )


@operator_required
def template_new(request: HttpRequest) -> HttpResponse:
    return _editor(request, None)


def _template(template_id: int) -> TxTemplate:
    try:
        return templates.get(template_id)
    except NotFound:
        raise Http404("No such template") from None


@operator_required
def template_edit(request: HttpRequest, template_id: int) -> HttpResponse:
    return _editor(request, _template(template_id))


@operator_required
@require_POST
def template_delete(request: HttpRequest, template_id: int) -> HttpResponse:
    template = _template(template_id)
    templates.delete(template)
    messages.success(request, _("Deleted “%(name)s”.") % {"name": template.name})
    return redirect("tx_templates")
