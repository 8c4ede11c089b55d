"""A campaign's send: the live panel, the controls, the delivery log and its CSV export,
and settling recipients in doubt."""

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST

from postroom.campaigns import services
from postroom.campaigns.models import Campaign
from postroom.delivery import autopause, control, doubt, export, progress
from postroom.delivery import texts as delivery_texts
from postroom.delivery.models import CampaignEvent, Delivery
from postroom.delivery.precheck import precheck
from postroom.errors import PostroomError
from postroom.integers import as_id
from postroom.web.permissions import operator_required

PAGE_SIZE = 100
STATES = [s for s, _ in Delivery.State.choices if s != Delivery.State.SENDING]


def _campaign(campaign_id: int) -> Campaign:
    try:
        return Campaign.objects.select_related("sender").get(pk=campaign_id)
    except Campaign.DoesNotExist:
        raise Http404("No such campaign") from None


def panel_context(campaign: Campaign) -> dict:
    summary = progress.summary(campaign)
    counts = summary["counts"]
    done = counts["sent"] + counts["failed"] + counts["skipped"] + counts["in_doubt"]
    return {
        "campaign": campaign,
        "summary": summary,
        "counts": counts,
        "done": done,
        "errors": progress.last_errors(campaign),
        "events": CampaignEvent.objects.filter(campaign=campaign)[:12],
        "auto_paused": campaign.status == Campaign.Status.PAUSED
        and CampaignEvent.objects.filter(campaign=campaign).values_list("kind", flat=True).first()
        == CampaignEvent.Kind.AUTO_PAUSED,
        "live": campaign.status == Campaign.Status.RUNNING,
        "threshold_text": _threshold_text(campaign),
        # The pre-send check shown next to "Start sending".
        "precheck": precheck(campaign) if campaign.is_editable else None,
    }


def _threshold_text(campaign: Campaign) -> str:
    """autopause.thresholds_text in the admin's language (that one is the CLI's English)."""
    return gettext(delivery_texts.THRESHOLDS) % {
        "percent": campaign.error_threshold_percent,
        "window": campaign.error_window,
        "outcomes": autopause.min_outcomes(campaign.error_window),
    }


@operator_required
@require_GET
def panel(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """The live panel (htmx polls it while the campaign runs)."""
    campaign = _campaign(campaign_id)
    return render(request, "web/delivery/_campaign_live.html", panel_context(campaign))


def _started(count: int) -> str:
    return ngettext(
        "Sending started for %(count)s recipient.",
        "Sending started for %(count)s recipients.",
        count,
    ) % {"count": count}


def _cancelled(count: int) -> str:
    return ngettext(
        "Campaign cancelled; %(count)s recipient skipped.",
        "Campaign cancelled; %(count)s recipients skipped.",
        count,
    ) % {"count": count}


def _queued_again(count: int) -> str:
    return ngettext(
        "%(count)s recipient queued again.", "%(count)s recipients queued again.", count
    ) % {"count": count}


# Each action and what it says once done, given what it returned (a count or nothing).
ACTIONS: dict[str, tuple[Callable[..., Any], Callable[[Any], str]]] = {
    "start": (control.start, _started),
    "pause": (control.pause, lambda _: gettext("Campaign paused.")),
    "resume": (control.resume, lambda _: gettext("Campaign resumed.")),
    "cancel": (control.cancel, _cancelled),
    "retry-failed": (control.retry_failed, _queued_again),
}


@operator_required
@require_POST
def act(request: HttpRequest, campaign_id: int, action: str) -> HttpResponse:
    campaign = _campaign(campaign_id)
    if action not in ACTIONS:
        raise Http404("No such action")
    function, done = ACTIONS[action]
    try:
        if action == "retry-failed":
            result = function(
                campaign, request.POST.get("reason", ""), bool(request.POST.get("in_doubt"))
            )
        else:
            result = function(campaign)
    except PostroomError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, done(result))
    return redirect("campaign_detail", campaign.pk)


class ThresholdForm(forms.Form):
    error_threshold_percent = forms.IntegerField(
        min_value=1, max_value=100, label=_("Pause when more than (%)")
    )
    error_window = forms.IntegerField(
        min_value=services.ERROR_WINDOW_RANGE[0],
        max_value=services.ERROR_WINDOW_RANGE[1],
        label=_("…of the last (recipients)"),
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)  # the help text has a number in it: made per request
        self.fields["error_window"].help_text = gettext(
            "How many of the most recent recipients with an outcome count, across every"
            " worker (at least %(count)s must have one)."
        ) % {"count": autopause.MIN_OUTCOMES}


@operator_required
def threshold(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """When the campaign pauses itself: settable in any state, running included."""
    campaign = _campaign(campaign_id)
    initial = {
        "error_threshold_percent": campaign.error_threshold_percent,
        "error_window": campaign.error_window,
    }
    form = ThresholdForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.set_error_threshold(
                campaign,
                form.cleaned_data["error_threshold_percent"],
                form.cleaned_data["error_window"],
            )
        except PostroomError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                gettext("It now pauses itself when %(threshold)s fail permanently.")
                % {"threshold": _threshold_text(campaign)},
            )
            return redirect("campaign_detail", campaign.pk)
    status = 400 if form.errors else 200
    return render(
        request,
        "web/delivery/threshold.html",
        {"campaign": campaign, "form": form, "min_outcomes": autopause.MIN_OUTCOMES},
        status=status,
    )


@operator_required
@require_GET
def log(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """Every recipient with state, time, attempts and reply; keyset pages stay fast at 1M rows."""
    campaign = _campaign(campaign_id)
    state = request.GET.get("state", "")
    state = state if state in STATES else ""
    query = request.GET.get("q", "").strip()
    after = request.GET.get("after", "")
    rows = export.deliveries(campaign.pk, state, query).select_related("sender").order_by("id")
    after_id = as_id(after)
    if after_id is not None:
        rows = rows.filter(id__gt=after_id)
    page = list(rows[: PAGE_SIZE + 1])
    more = len(page) > PAGE_SIZE
    page = page[:PAGE_SIZE]
    context = {
        "campaign": campaign,
        "rows": page,
        "state": state,
        "q": query,
        "states": STATES,
        "next_after": page[-1].id if more else None,
        "counts": progress.campaign_counts(campaign),
        "first_page": not after,
        # In doubt, each row shows what is known and the two ways to settle it.
        "known": [doubt.known(row, campaign) for row in page]
        if state == Delivery.State.IN_DOUBT
        else None,
    }
    return render(request, "web/delivery/log.html", context)


OUTCOMES = {"delivered": "Mark delivered", "resend": "Resend"}


@operator_required
@require_POST
def resolve(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """Settle rows in doubt: one row at once; all of them after a confirmation page."""
    campaign = _campaign(campaign_id)
    back = reverse("campaign_deliveries", args=[campaign.pk]) + "?state=in_doubt"
    outcome = request.POST.get("outcome", "")
    if outcome not in OUTCOMES:
        messages.error(request, _("Choose “Mark delivered” or “Resend”."))
        return redirect(back)
    everyone = request.POST.get("scope") == "all"
    ids = None if everyone else [i for i in map(as_id, request.POST.getlist("id")) if i]
    if everyone and request.POST.get("confirm") != "1":
        context = {
            "campaign": campaign,
            "outcome": outcome,
            "label": OUTCOMES[outcome],
            "count": doubt.rows_in_doubt(campaign).count(),
            "back": back,
        }
        return render(request, "web/delivery/resolve_confirm.html", context)
    try:
        count = doubt.resolve(campaign, outcome == "delivered", ids=ids, by=request.user)
    except PostroomError as exc:
        messages.error(request, str(exc))
        return redirect(back)
    campaign.refresh_from_db()
    if outcome == "delivered":
        done = ngettext(
            "%(count)s recipient marked delivered; they will not be sent again.",
            "%(count)s recipients marked delivered; they will not be sent again.",
            count,
        )
    elif campaign.status == "paused":
        done = ngettext(
            "%(count)s recipient queued to be sent again."
            " It is paused: they go out once you resume it.",
            "%(count)s recipients queued to be sent again."
            " It is paused: they go out once you resume it.",
            count,
        )
    else:
        done = ngettext(
            "%(count)s recipient queued to be sent again.",
            "%(count)s recipients queued to be sent again.",
            count,
        )
    messages.success(request, done % {"count": count})
    return redirect(back)


@operator_required
@require_GET
def log_csv(request: HttpRequest, campaign_id: int) -> StreamingHttpResponse:
    campaign = _campaign(campaign_id)
    state = request.GET.get("state", "")
    state = state if state in STATES else ""
    lines = export.csv_lines(campaign.pk, state, request.GET.get("q", ""))
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    name = f"campaign-{campaign.pk}-deliveries{'-' + state if state else ''}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@operator_required
@require_GET
def subscriber_deliveries(request: HttpRequest, subscriber_id: int) -> HttpResponse:
    rows = (
        Delivery.objects.filter(subscriber_id=subscriber_id)
        .select_related("campaign", "sender")
        .order_by("-id")[:50]
    )
    return render(request, "web/delivery/_subscriber_rows.html", {"rows": rows})
