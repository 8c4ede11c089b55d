"""The audit log page (admins): filters, pages of 50, and the whole selection as CSV."""

from datetime import date

from django import forms
from django.core.paginator import Paginator
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from postroom.accounts import audit
from postroom.web.permissions import OperatorRequest, operator_required


class AuditFilter(forms.Form):
    user = forms.CharField(required=False, label=_("User"))
    action = forms.CharField(required=False, label=_("Action contains"))
    since = forms.DateField(
        required=False, label=_("From"), widget=forms.DateInput({"type": "date"})
    )
    until = forms.DateField(required=False, label=_("To"), widget=forms.DateInput({"type": "date"}))


def _entries(request: OperatorRequest):
    form = AuditFilter(request.GET or None)
    values: dict[str, str | date | None] = {}
    if form.is_valid():
        values = form.cleaned_data
    entries = audit.filtered(
        username=str(values.get("user") or ""),
        action=str(values.get("action") or ""),
        since=values.get("since"),
        until=values.get("until"),
    )
    return form, entries


@operator_required
def index(request: OperatorRequest) -> HttpResponse:
    form, entries = _entries(request)
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "query": query.urlencode()}
    return render(request, "web/audit.html", context)


@operator_required
def export(request: OperatorRequest) -> StreamingHttpResponse:
    _form, entries = _entries(request)
    response = StreamingHttpResponse(audit.csv_rows(entries), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="postroom-audit.csv"'
    return response
