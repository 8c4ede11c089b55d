"""Alerts on the dashboard: acknowledging one, and choosing how alert emails go out."""

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from postroom.alerts import services
from postroom.errors import PostroomError
from postroom.web.permissions import OperatorRequest, operator_required


@operator_required
@require_POST
def acknowledge(request: OperatorRequest, alert_id: int) -> HttpResponse:
    try:
        alert = services.acknowledge(alert_id, request.user)
    except PostroomError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Acknowledged: %(alert)s.") % {"alert": alert.title})
    return redirect("dashboard")


@operator_required
@require_POST
def notification_sender(request: OperatorRequest) -> HttpResponse:
    raw = request.POST.get("sender", "").strip()
    try:
        if raw and not raw.isdigit():
            raise PostroomError(_("choose a sender from the list, or the local outbox"))
        row = services.set_notification_sender(int(raw) if raw else None, request.user)
    except PostroomError as exc:
        messages.error(request, str(exc))
    else:
        if row.sender:
            done = _("Alert emails now go through “%(sender)s”.") % {"sender": row.sender.name}
        else:
            done = _("Alert emails now go to the local outbox.")
        messages.success(request, done)
    return redirect("settings")
