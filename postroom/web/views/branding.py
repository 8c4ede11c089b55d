"""Branding of the public pages: the installation's (Settings) and a list's own (its page)."""

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from postroom.public import branding
from postroom.public.forms import BrandingForm
from postroom.web.permissions import OperatorRequest, operator_required
from postroom.web.views import lists, settings


@operator_required
@require_POST
def installation(request: OperatorRequest) -> HttpResponse:
    form = BrandingForm(request.POST)
    if not form.is_valid():
        return settings.index_page(request, branding_form=form, status=400)
    branding.save(None, form.cleaned_data, request.user)
    messages.success(request, _("The public pages' branding was saved."))
    return redirect("settings")


@operator_required
@require_POST
def for_list(request: OperatorRequest, list_id: int) -> HttpResponse:
    mailing_list = lists.get_list(list_id)
    form = BrandingForm(request.POST, inherit=True)
    if not form.is_valid():
        return lists.detail_page(request, mailing_list, branding_form=form, status=400)
    branding.save(mailing_list, form.cleaned_data, request.user)
    messages.success(request, _("This list's branding was saved."))
    return redirect("list_detail", mailing_list.pk)
