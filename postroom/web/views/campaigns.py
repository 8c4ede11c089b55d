"""Campaign screens: list, editor with live preview, detail, preview, test send, schedule."""

from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from postroom.abtests import services as abtests
from postroom.audience.models import Segment
from postroom.campaigns import bodies, pools, services
from postroom.campaigns.forms import CampaignForm, ScheduleForm, TestSendForm
from postroom.campaigns.layouts import default_layout
from postroom.campaigns.models import Campaign
from postroom.delivery import capacity, control, progress
from postroom.errors import InvalidInput, NotAllowed, NotFound, PostroomError
from postroom.mail.errors import TemplateError
from postroom.media import services as media
from postroom.media.forms import AttachmentsForm
from postroom.public import archive
from postroom.web.permissions import OperatorRequest, operator_required
from postroom.web.views.campaign_figures import list_figures

LIST_SIZE = 500
EMPTY_FIGURES = {
    "total": 0, "sent": 0, "done": 0, "opens": 0, "clicks": 0, "bounces": 0, "unsubscribes": 0,
    "summary": None,
}  # fmt: skip


def _campaign(campaign_id: int) -> Campaign:
    try:
        return services.get_campaign(campaign_id)
    except NotFound:
        raise Http404("No such campaign") from None


def _problems(exc: InvalidInput | NotAllowed) -> list[str]:
    if isinstance(exc, TemplateError):
        return [str(p) for p in exc.problems]
    return [str(exc)]


@operator_required
@require_GET
def index(request: OperatorRequest) -> HttpResponse:
    campaigns = Campaign.objects.filter(kind=Campaign.Kind.NEWSLETTER)
    campaigns = request.access.campaigns(
        campaigns.select_related("segment").prefetch_related("lists")
    )
    status = request.GET.get("status", "")
    if status in Campaign.Status.values:
        campaigns = campaigns.filter(status=status)
    shown = list(campaigns[:LIST_SIZE])
    figures = list_figures([c.pk for c in shown])
    rows = [{"campaign": c, **figures.get(c.pk, EMPTY_FIGURES)} for c in shown]
    for row in rows:  # a running campaign may be waiting or stalled: say so in the list too
        if row["campaign"].status == Campaign.Status.RUNNING:
            row["summary"] = progress.summary(row["campaign"])
    return render(
        request,
        "web/campaigns/index.html",
        {"rows": rows, "statuses": Campaign.Status.choices, "status": status},
    )


def _editor(request: OperatorRequest, campaign: Campaign | None) -> HttpResponse:
    instance = campaign or Campaign(layout=default_layout())
    form = CampaignForm(request.POST or None, instance=instance)
    form.fields["lists"].queryset = request.access.lists()  # type: ignore[attr-defined]
    attached = AttachmentsForm(request.POST or None, campaign=campaign)
    problems: list[str] = []
    if request.method == "POST" and form.is_valid() and attached.is_valid():
        lists = list(form.cleaned_data["lists"])
        try:
            with transaction.atomic():  # the campaign and its attachments, or neither
                request.access.check_lists(lists)
                if campaign is None:
                    saved = services.create_campaign(
                        lists=lists, created_by=request.user, **form.service_fields()
                    )
                    done = _("Campaign “%(name)s” created as a draft.") % {"name": saved.name}
                else:
                    saved = services.update_campaign(
                        _campaign(campaign.pk), lists=lists, **form.service_fields()
                    )
                    done = _("Campaign saved.")
                media.set_campaign_attachments(saved, [m.pk for m in attached.chosen()])
            messages.success(request, done)
            return redirect("campaign_detail", saved.pk)
        except (InvalidInput, NotAllowed) as exc:
            problems = _problems(exc)
    return render(
        request,
        "web/campaigns/edit.html",
        {"form": form, "campaign": campaign, "problems": problems, "attachments_form": attached},
        status=400 if problems else 200,
    )


@operator_required
def new(request: OperatorRequest) -> HttpResponse:
    return _editor(request, None)


@operator_required
def edit(request: OperatorRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign(campaign_id)
    if not campaign.is_editable:
        messages.error(
            request,
            _("This campaign is %(status)s and can no longer be edited.")
            % {"status": campaign.get_status_display().lower()},
        )
        return redirect("campaign_detail", campaign.pk)
    return _editor(request, campaign)


@operator_required
@require_POST
def live_preview(request: HttpRequest) -> HttpResponse:
    """The editor's unsaved content rendered for the sample reader (an htmx fragment)."""
    form = CampaignForm(request.POST)
    form.is_valid()  # fills cleaned_data with whatever is valid; the rest stays default
    data = form.cleaned_data
    campaign = Campaign(
        name=data.get("name") or _("Untitled"),
        subject=data.get("subject") or "",
        preheader=data.get("preheader") or "",
        from_name=data.get("from_name") or "",
        from_email=data.get("from_email") or services.PLACEHOLDER_FROM,
        reply_to=data.get("reply_to") or "",
        body_format=data.get("body_format") or Campaign.Format.MARKDOWN,
        text_body=data.get("text_body") or "",
        layout=data.get("layout"),
        headers=data.get("custom_headers") or {},
    )
    context: dict = {"problems": [], "subject": "", "html": "", "text": ""}
    try:  # the body as it would be stored, so the preview shows what saving keeps
        campaign.body = bodies.stored_body(campaign.body_format, data.get("body") or "")
        subject, html, text = services.preview(campaign, lists=list(data.get("lists") or []))
        context.update(subject=subject, html=html, text=text)
    except InvalidInput as exc:
        context["problems"] = _problems(exc)
    return render(request, "web/campaigns/_preview.html", context)


@operator_required
@require_POST
def convert_body(request: HttpRequest) -> JsonResponse:
    """The editor's body in another format, for its mode switch: {"body"} or {"error"}."""
    source, target = request.POST.get("from", ""), request.POST.get("to", "")
    try:
        body = bodies.convert_body(request.POST.get("body", ""), source, target)
    except InvalidInput as exc:
        return JsonResponse({"error": "; ".join(_problems(exc))}, status=400)
    return JsonResponse({"body": body, "lossy": bodies.is_lossy(source, target)})


@operator_required
@require_GET
def audience_count(request: OperatorRequest) -> HttpResponse:
    """How many would receive a campaign to the chosen lists/segment now (htmx fragment)."""
    list_ids = [i for i in request.GET.getlist("lists") if i.isdigit()]
    segment_id = request.GET.get("segment", "")
    segment = Segment.objects.filter(pk=segment_id).first() if segment_id.isdigit() else None
    lists = request.access.lists().filter(pk__in=list_ids)
    if request.access.restricted and not list_ids:
        segment = None  # a segment alone spans every list
    count = services.mailable(lists, segment).count() if (list_ids or segment) else None
    return render(request, "web/campaigns/_audience_count.html", {"count": count})


@operator_required
@require_GET
def detail(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign(campaign_id)
    email = request.GET.get("email", "").strip()
    context: dict = {
        "campaign": campaign,
        "lists": campaign.lists.all(),
        "audience": services.audience_count(campaign),
        "email": email,
        "problems": [],
        "schedule_form": ScheduleForm(initial={"timezone": campaign.send_at_timezone or "UTC"}),
        "test_form": TestSendForm(),
        "unsubscribes": campaign.unsubscribe_events.count(),
        "archives": [(ml, archive.archive_url(ml)) for ml in archive.archives_of(campaign)],
        "pool": pools.members(campaign),
        "abtest": abtests.test_of(campaign),
        "rest_of": abtests.rest_of(campaign),
        # A running campaign may really be waiting or stalled: the heading says which.
        "summary": progress.summary(campaign)
        if campaign.status == Campaign.Status.RUNNING
        else None,
    }
    if len(context["pool"]) > 1 and campaign.started_at:  # where its mail went, per sender
        context["sent_by_sender"] = capacity.sent_by_sender(campaign)
    try:
        recipient = services.recipient_by_email(email) if email else None
        subject, html, text = services.preview(campaign, recipient)
        context.update(subject=subject, html=html, text=text)
    except (InvalidInput, NotFound) as exc:
        context["problems"] = [str(exc)] if isinstance(exc, NotFound) else _problems(exc)
    return render(request, "web/campaigns/detail.html", context)


@operator_required
@require_POST
def test_send(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign(campaign_id)
    form = TestSendForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give at least one address for the test."))
        return redirect("campaign_detail", campaign.pk)
    prefix = services.TEST_SUBJECT_PREFIX if form.cleaned_data["prefix"] else ""
    try:
        outcomes = control.send_test(campaign, form.address_list(), prefix)
    except PostroomError as exc:  # a bad address, a broken template
        messages.error(request, _("Test not sent: %(problem)s") % {"problem": exc})
        return redirect("campaign_detail", campaign.pk)
    for outcome in outcomes:
        text = outcome.describe()
        text = text[0].upper() + text[1:] + "."
        if outcome.queued:
            messages.info(request, text)
        elif outcome.ok:
            messages.success(request, text)
        else:
            messages.error(request, text)
    return redirect("campaign_detail", campaign.pk)


@operator_required
@require_POST
def schedule(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign(campaign_id)
    form = ScheduleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a date, a time and a time zone."))
        return redirect("campaign_detail", campaign.pk)
    try:
        when, zone = services.parse_send_at(
            form.cleaned_data["send_at"], form.cleaned_data["timezone"]
        )
        services.schedule(campaign, when, zone)
        messages.success(
            request,
            _("Scheduled for %(when)s (%(zone)s).")
            % {"when": f"{when:%Y-%m-%d %H:%M}", "zone": zone},
        )
    except InvalidInput as exc:
        messages.error(request, _("Not scheduled: %(problem)s") % {"problem": exc})
    return redirect("campaign_detail", campaign.pk)


@operator_required
@require_POST
def unschedule(request: HttpRequest, campaign_id: int) -> HttpResponse:
    try:
        services.unschedule(_campaign(campaign_id))
        messages.success(request, _("The campaign is a draft again."))
    except InvalidInput as exc:
        messages.error(request, str(exc))
    return redirect("campaign_detail", campaign_id)


@operator_required
@require_POST
def set_archive(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """In or out of the public archive, in any state (a sent campaign is the usual one)."""
    campaign = _campaign(campaign_id)
    wanted = request.POST.get("in_archive")
    if wanted not in ("on", "off"):
        messages.error(request, _("Choose whether the campaign is in the archive."))
        return redirect("campaign_detail", campaign.pk)
    services.set_in_archive(campaign, wanted == "on")
    if not campaign.in_archive:
        messages.success(request, _("Taken out of the public archive."))
    elif archive.archives_of(campaign):
        messages.success(request, _("Shown in the public archive."))
    else:
        messages.info(
            request, _("Marked for the public archive: shown once it is sent to a public list.")
        )
    return redirect("campaign_detail", campaign.pk)


@operator_required
@require_POST
def duplicate(request: HttpRequest, campaign_id: int) -> HttpResponse:
    copy = services.duplicate_campaign(_campaign(campaign_id), created_by=request.user)
    messages.success(request, _("Created “%(name)s”.") % {"name": copy.name})
    return redirect("campaign_edit", copy.pk)


@operator_required
@require_POST
def delete(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign(campaign_id)
    try:
        services.delete_campaign(campaign)
    except InvalidInput as exc:
        messages.error(request, str(exc))
        return redirect("campaign_detail", campaign.pk)
    messages.success(request, _("Deleted “%(name)s”.") % {"name": campaign.name})
    return redirect("campaigns")
