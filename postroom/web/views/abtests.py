"""A/B test screens: make a draft campaign a test, set it up, start it, see results, decide."""

from collections.abc import Callable

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from postroom.abtests import confidence, services
from postroom.abtests.forms import ABTestForm
from postroom.abtests.models import ABTest
from postroom.campaigns.models import Campaign
from postroom.campaigns.services import get_campaign
from postroom.errors import InvalidInput, NotFound, PostroomError
from postroom.web.permissions import OperatorRequest, operator_required


def _campaign(campaign_id: int) -> Campaign:
    try:
        return get_campaign(campaign_id)
    except NotFound:
        raise Http404("No such campaign") from None


def _test(campaign_id: int) -> ABTest:
    try:
        return services.get_test(campaign_id)
    except NotFound:
        raise Http404("This campaign is not an A/B test") from None


@operator_required
def page(request: OperatorRequest, campaign_id: int) -> HttpResponse:
    """The test's settings (while a draft), its variants and their results."""
    try:
        test = services.get_test(campaign_id)
    except NotFound:  # not (or no longer) a test: the campaign says how to make it one
        return redirect("campaign_detail", _campaign(campaign_id).pk)
    parts = services.variants(test)
    form = ABTestForm(request.POST or None, test=test, parts=parts)
    status = 200
    if request.method == "POST":
        try:
            if not form.is_valid():
                raise InvalidInput(_("check the fields marked below"))
            services.update_test(test, **form.service_fields())
            messages.success(request, _("A/B test saved."))
            return redirect("campaign_abtest", test.campaign_id)
        except PostroomError as exc:
            messages.error(request, _("Not saved: %(problem)s") % {"problem": exc})
            status = 400
    found = services.results(test)
    context = {
        "test": test,
        "campaign": test.campaign,
        "form": form,
        "results": found,
        # Nobody opened or clicked yet: no variant is ahead.
        "leader": services.leader(test, found)
        if test.status == ABTest.Status.TESTING and any(r.opens or r.clicks for r in found)
        else None,
        "comparisons": list(services.comparisons(test, found).values())
        if test.status != ABTest.Status.DRAFT and any(r.sent for r in found)
        else [],
        "rule": {"least": confidence.MIN_EACH, "sure": round(confidence.CONFIDENT * 100)},
        "waiting": services.waiting_for(test),
        "draft": test.status == ABTest.Status.DRAFT,
    }
    return render(request, "web/abtests/page.html", context, status=status)


def _act(request: OperatorRequest, campaign_id: int, action: Callable, done: str) -> HttpResponse:
    try:
        action()
        messages.success(request, done)
    except PostroomError as exc:
        messages.error(request, str(exc)[0].upper() + str(exc)[1:] + ".")
    return redirect("campaign_abtest", campaign_id)


@operator_required
@require_POST
def create(request: OperatorRequest, campaign_id: int) -> HttpResponse:
    campaign = _campaign(campaign_id)
    try:
        services.make_test(campaign)
    except PostroomError as exc:
        messages.error(request, _("Not made an A/B test: %(problem)s") % {"problem": exc})
        return redirect("campaign_detail", campaign_id)
    messages.success(request, _("Made an A/B test with a second variant to change."))
    return redirect("campaign_abtest", campaign.pk)


@operator_required
@require_POST
def variant(request: OperatorRequest, campaign_id: int) -> HttpResponse:
    test = _test(campaign_id)
    label = request.POST.get("remove", "")
    if label:
        return _act(
            request, test.campaign_id, lambda: services.remove_variant(test, label),
            _("Variant %(label)s removed.") % {"label": label},
        )  # fmt: skip
    return _act(request, test.campaign_id, lambda: services.add_variant(test), _("Variant added."))


@operator_required
@require_POST
def start(request: OperatorRequest, campaign_id: int) -> HttpResponse:
    test = _test(campaign_id)
    return _act(request, test.campaign_id, lambda: services.start_test(test), _("Test started."))


@operator_required
@require_POST
def decide(request: OperatorRequest, campaign_id: int) -> HttpResponse:
    test = _test(campaign_id)
    label = request.POST.get("winner", "")
    return _act(
        request, test.campaign_id, lambda: services.decide(test, label, by_hand=True),
        _("Variant %(label)s chosen: it goes to the rest of the audience.") % {"label": label},
    )  # fmt: skip


@operator_required
@require_POST
def delete(request: OperatorRequest, campaign_id: int) -> HttpResponse:
    test = _test(campaign_id)
    try:
        services.delete_test(test)
    except PostroomError as exc:
        messages.error(request, str(exc))
        return redirect("campaign_abtest", test.campaign_id)
    messages.success(request, _("Not an A/B test any more; the other variants were deleted."))
    return redirect("campaign_detail", test.campaign_id)
