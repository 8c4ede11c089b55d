"""Mailing list screens: all lists with counts per status, one list's settings."""

from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from postroom.audience import services
from postroom.audience.forms import ListForm
from postroom.audience.models import MailingList, Subscription
from postroom.errors import NotAllowed
from postroom.public import archive, branding
from postroom.public.forms import BrandingForm
from postroom.tracking.forms import list_key, public_lists
from postroom.tracking.snippet import signup_snippet
from postroom.web.permissions import OperatorRequest, operator_required


def get_list(list_id: int) -> MailingList:
    try:
        return MailingList.objects.get(pk=list_id)
    except MailingList.DoesNotExist:
        raise Http404(_("No such list")) from None


def _save(form: ListForm) -> MailingList | None:
    try:
        with transaction.atomic():
            return form.save()
    except IntegrityError:
        form.add_error("name", _("A list with this name already exists."))
        return None


@operator_required
def index(request: OperatorRequest) -> HttpResponse:
    form = ListForm(request.POST or None)
    if request.method == "POST":
        try:
            request.access.check_new_list()
        except NotAllowed as exc:
            raise PermissionDenied(str(exc)) from None
    if request.method == "POST" and form.is_valid():
        saved = _save(form)
        if saved is not None:
            messages.success(request, _("List “%(name)s” created.") % {"name": saved.name})
            return redirect("list_detail", saved.pk)
    counts = services.list_counts()
    empty = dict.fromkeys(Subscription.Status.values, 0)
    rows = [(ml, counts.get(ml.pk, empty)) for ml in request.access.lists()]
    status = 400 if form.errors else 200
    return render(request, "web/audience/lists.html", {"rows": rows, "form": form}, status=status)


@operator_required
def detail(request: HttpRequest, list_id: int) -> HttpResponse:
    mailing_list = get_list(list_id)
    form = ListForm(request.POST or None, instance=mailing_list)
    if request.method == "POST" and form.is_valid() and _save(form) is not None:
        messages.success(request, _("List saved."))
        return redirect("list_detail", mailing_list.pk)
    return detail_page(request, mailing_list, form=form)


def detail_page(
    request: HttpRequest,
    mailing_list: MailingList,
    form: ListForm | None = None,
    branding_form: BrandingForm | None = None,
    status: int | None = None,
) -> HttpResponse:
    """A list's page; with whichever of its forms was posted and refused."""
    form = form or ListForm(instance=mailing_list)
    mailing_list.refresh_from_db()
    counts = services.list_counts().get(
        mailing_list.pk, dict.fromkeys(Subscription.Status.values, 0)
    )
    links = {
        status: reverse("subscribers")
        + "?"
        + urlencode({"list": mailing_list.pk, "list_status": status})
        for status in Subscription.Status.values
    }
    context = {
        "list": mailing_list,
        "form": form,
        "counts": counts,
        "links": links,
        "snippet": signup_snippet(mailing_list) if mailing_list.is_public else "",
        "form_url": reverse("public_subscribe", args=[list_key(mailing_list, public_lists())]),
        "archive_url": archive.archive_url(mailing_list) if mailing_list.is_public else "",
        "archived": archive.entries(mailing_list).count(),
        "branding_form": branding_form
        or BrandingForm.of(branding.stored(mailing_list), inherit=True),
    }
    if status is None:
        status = 400 if form.errors else 200
    return render(request, "web/audience/list_detail.html", context, status=status)


@operator_required
def delete(request: HttpRequest, list_id: int) -> HttpResponse:
    mailing_list = get_list(list_id)
    if request.method == "POST":
        name = mailing_list.name
        services.delete_list(mailing_list)
        messages.success(
            request, _("List “%(name)s” deleted; its subscribers were kept.") % {"name": name}
        )
        return redirect("lists")
    total = mailing_list.subscriptions.count()
    return render(request, "web/audience/list_delete.html", {"list": mailing_list, "total": total})
