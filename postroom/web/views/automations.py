"""Sequence screens: the list, a new sequence, its step list with add, edit, move and delete,
activate and pause, each person's place (and as CSV). The checking is `automations.services`'s
(and `automations.reorder`'s)."""

from collections.abc import Callable

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from postroom.automations import engine, reorder, services
from postroom.automations.forms import AutomationForm, StepForm
from postroom.automations.models import Automation, Enrolment
from postroom.errors import NotFound, PostroomError
from postroom.web.permissions import operator_required

# People shown on the page; the CSV has everyone.
SHOWN = 100


def _guard(request: HttpRequest) -> None:
    """A sequence can mail anyone its trigger reaches: not for a user limited to lists."""
    if request.access.restricted:  # type: ignore[attr-defined]
        raise PermissionDenied(
            _("Sequences can reach any subscriber: your access is to some lists.")
        )


def _automation(request: HttpRequest, automation_id: int) -> Automation:
    _guard(request)
    try:
        return services.get(automation_id)
    except NotFound:
        raise Http404("No such automation") from None


@operator_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    _guard(request)
    rows = [
        (a, services.status(a))
        for a in Automation.objects.select_related("mailing_list", "segment", "sender")
    ]
    return render(request, "web/automations/index.html", {"rows": rows})


@operator_required
def new(request: HttpRequest) -> HttpResponse:
    _guard(request)
    form = AutomationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            made = services.create(
                name=d["name"],
                trigger=form.trigger_text(),
                sender=d.get("sender") or None,
                from_email=d.get("from_email") or "",
                from_name=d.get("from_name") or "",
                local_hour=d["local_hour"],
                enrol_existing=d.get("enrol_existing", False),
            )
        except PostroomError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request, _("Sequence “%(name)s” created: add its steps.") % {"name": made.name}
            )
            return redirect("automation_detail", made.pk)
    return render(request, "web/automations/new.html", {"form": form})


@operator_required
def detail(request: HttpRequest, automation_id: int) -> HttpResponse:
    """The step list, the add-step form (POST adds), and who is where."""
    automation = _automation(request, automation_id)
    form = StepForm(request.POST or None, initial={"wait": "0", "kind": "send"})
    if request.method == "POST" and form.is_valid():
        try:
            step = services.add_step(automation, form.cleaned_data["kind"], **form.values())
        except PostroomError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                _("Step %(position)s added: %(step)s")
                % {"position": step.position, "step": services.describe_step(step)},
            )
            return redirect("automation_detail", automation.pk)
    people = list(
        automation.enrolments.exclude(state=Enrolment.State.EXCLUDED)
        .select_related("subscriber")
        .order_by("-updated_at", "-id")[:SHOWN]
    )
    return render(
        request,
        "web/automations/detail.html",
        {
            "automation": automation,
            "status": services.status(automation),
            "form": form,
            "people": people,
            "shown": SHOWN,
            "live": automation.status == Automation.Status.ACTIVE,
            "warning": services.LIVE_EDIT_WARNING,
            "next_due": engine.next_due(),
        },
    )


@operator_required
def step_edit(request: HttpRequest, automation_id: int, position: int) -> HttpResponse:
    automation = _automation(request, automation_id)
    try:
        step = services.get_step(automation, position)
    except NotFound:
        raise Http404("No such step") from None
    form = StepForm(request.POST or None, initial=StepForm.initial_for(step))
    if request.method == "POST" and form.is_valid():
        values = form.values()
        try:
            services.edit_step(step, kind=form.cleaned_data["kind"], **values)
        except PostroomError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Step %(position)s saved.") % {"position": step.position})
            return redirect("automation_detail", automation.pk)
    return render(
        request,
        "web/automations/step_edit.html",
        {
            "automation": automation,
            "step": step,
            "form": form,
            "live": automation.status == Automation.Status.ACTIVE,
            "people_here": automation.enrolments.filter(
                state=Enrolment.State.ACTIVE, position=step.position
            ).count(),
            "warning": services.LIVE_EDIT_WARNING,
            "change_warning": reorder.LIVE_CHANGE_WARNING,
            "step_count": automation.steps.count(),
        },
    )


@operator_required
@require_POST
def step_delete(request: HttpRequest, automation_id: int, position: int) -> HttpResponse:
    automation = _automation(request, automation_id)
    try:
        reorder.delete_step(automation, position)
    except PostroomError as exc:
        messages.error(request, str(exc))
        return redirect("automation_step", automation.pk, position)
    messages.success(request, _("Step %(position)s deleted.") % {"position": position})
    return redirect("automation_detail", automation.pk)


@operator_required
@require_POST
def step_move(request: HttpRequest, automation_id: int, position: int) -> HttpResponse:
    automation = _automation(request, automation_id)
    to = request.POST.get("to", "")
    try:
        reorder.move_step(automation, position, to)
    except PostroomError as exc:
        messages.error(request, str(exc))
        return redirect("automation_step", automation.pk, position)
    messages.success(
        request, _("Step %(position)s is now step %(to)s.") % {"position": position, "to": to}
    )
    return redirect("automation_detail", automation.pk)


def _act(
    request: HttpRequest, automation_id: int, action, done: Callable[[str], str]
) -> HttpResponse:
    """Activate or pause: the refusal or `done(name)` as a message, then the page."""
    automation = _automation(request, automation_id)
    try:
        action(automation)
    except PostroomError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, done(automation.name))
    return redirect("automation_detail", automation.pk)


@operator_required
@require_POST
def activate(request: HttpRequest, automation_id: int) -> HttpResponse:
    return _act(
        request,
        automation_id,
        services.activate,
        lambda name: _("“%(name)s” is active.") % {"name": name},
    )


@operator_required
@require_POST
def pause(request: HttpRequest, automation_id: int) -> HttpResponse:
    return _act(
        request,
        automation_id,
        services.pause,
        lambda name: _("“%(name)s” is paused: nobody moves on.") % {"name": name},
    )


@operator_required
@require_GET
def positions_csv(request: HttpRequest, automation_id: int) -> StreamingHttpResponse:
    automation = _automation(request, automation_id)
    response = StreamingHttpResponse(
        services.positions_csv(automation), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="automation-{automation.pk}.csv"'
    return response
