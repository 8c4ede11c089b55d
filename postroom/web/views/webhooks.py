"""Outgoing webhooks: the endpoints, one endpoint's settings, its test button and its log."""

from datetime import UTC, datetime

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from postroom.errors import NotFound, PostroomError
from postroom.web.permissions import OperatorRequest, operator_required
from postroom.webhooks import services
from postroom.webhooks.events import EVENTS
from postroom.webhooks.models import Endpoint, WebhookDelivery


class EndpointForm(forms.Form):
    name = forms.CharField(max_length=100, label=_("Name"))
    url = forms.CharField(max_length=2000, label=_("URL"), widget=forms.URLInput)
    events = forms.MultipleChoiceField(
        choices=[(k, format_lazy("{} — {}", k, _(v))) for k, v in EVENTS.items()],
        widget=forms.CheckboxSelectMultiple,
        label=_("Events"),
    )
    active = forms.BooleanField(required=False, initial=True, label=_("Active"))


def _endpoint(endpoint_id: int) -> Endpoint:
    try:
        return services.get_endpoint(endpoint_id)
    except NotFound:
        raise Http404("no such endpoint") from None


def _detail(request: OperatorRequest, endpoint: Endpoint, form=None, secret="", status=200):
    rows = [
        (
            row,
            datetime.fromtimestamp(row.next_attempt_at, UTC)
            if row.state == WebhookDelivery.State.PENDING and row.attempts
            else None,
        )
        for row in services.log(endpoint, 50)
    ]
    initial = {
        "name": endpoint.name,
        "url": endpoint.url,
        "events": endpoint.events,
        "active": endpoint.active,
    }
    context = {
        "endpoint": endpoint,
        "form": form or EndpointForm(initial=initial),
        "secret": secret,
        "rows": rows,
    }
    return render(request, "web/webhooks/detail.html", context, status=status)


@operator_required
def index(request: OperatorRequest) -> HttpResponse:
    form = EndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            endpoint, secret = services.create_endpoint(data["name"], data["url"], data["events"])
            if not data["active"]:
                services.update_endpoint(endpoint, active=False)
        except PostroomError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Endpoint “%(name)s” added.") % {"name": endpoint.name})
            # Shown in this answer only: never stored anywhere a later page could read it.
            return _detail(request, endpoint, secret=secret, status=201)
    endpoints = list(Endpoint.objects.all())
    last = {
        d.endpoint_id: d
        for d in WebhookDelivery.objects.filter(endpoint__in=endpoints).order_by("pk")
    }
    rows = [(e, last.get(e.pk)) for e in endpoints]
    status = 400 if form.errors else 200
    context = {"rows": rows, "form": form}
    return render(request, "web/webhooks/index.html", context, status=status)


@operator_required
def detail(request: OperatorRequest, endpoint_id: int) -> HttpResponse:
    endpoint = _endpoint(endpoint_id)
    if request.method != "POST":
        return _detail(request, endpoint)
    form = EndpointForm(request.POST)
    if form.is_valid():
        try:
            services.update_endpoint(endpoint, **form.cleaned_data)
        except PostroomError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Endpoint saved."))
            return redirect("webhook_detail", endpoint.pk)
    endpoint.refresh_from_db()
    return _detail(request, endpoint, form=form, status=400)


@operator_required
@require_POST
def test(request: OperatorRequest, endpoint_id: int) -> HttpResponse:
    endpoint = _endpoint(endpoint_id)
    delivery = services.send_test(endpoint)
    if delivery.state == WebhookDelivery.State.DELIVERED:
        messages.success(
            request,
            _("Test delivered: the endpoint answered %(status)s.")
            % {"status": delivery.last_status},
        )
    else:
        why = delivery.last_error or f"HTTP {delivery.last_status}"
        messages.error(request, _("Test failed: %(reason)s.") % {"reason": why})
    return redirect("webhook_detail", endpoint.pk)


@operator_required
@require_POST
def rotate(request: OperatorRequest, endpoint_id: int) -> HttpResponse:
    endpoint = _endpoint(endpoint_id)
    secret = services.rotate_secret(endpoint)
    messages.success(request, _("New secret made: the old one no longer signs."))
    return _detail(request, endpoint, secret=secret)


@operator_required
def delete(request: OperatorRequest, endpoint_id: int) -> HttpResponse:
    endpoint = _endpoint(endpoint_id)
    if request.method == "POST":
        try:
            services.delete_endpoint(endpoint)
        except PostroomError as exc:
            messages.error(request, str(exc))
            return redirect("webhooks")
        messages.success(request, _("Endpoint “%(name)s” removed.") % {"name": endpoint.name})
        return redirect("webhooks")
    return render(request, "web/webhooks/delete.html", {"endpoint": endpoint})
