"""Subscriber screens: the table (search, filters, sorting, keyset pages), one subscriber,
adding one, and bulk actions on a selection or a whole filter result (always confirmed)."""

from dataclasses import replace
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from postroom.audience import browse, bulk, services
from postroom.audience.forms import SubscriberEditForm, SubscriberForm
from postroom.audience.models import Segment, Subscriber, Subscription, Tag
from postroom.errors import InvalidInput, PostroomError
from postroom.integers import as_id
from postroom.web.permissions import OperatorRequest, operator_required

BULK_ACTIONS = bulk.ACTIONS


def _subscriber(subscriber_id: int) -> Subscriber:
    try:
        return Subscriber.objects.get(pk=subscriber_id)
    except Subscriber.DoesNotExist:
        raise Http404("No such subscriber") from None


def _filters(request: OperatorRequest, params) -> browse.Filters:
    """The filters asked for, within the lists the person may see."""
    return replace(browse.Filters.from_query(params), within=request.access.list_ids)


def _list_url(filters: browse.Filters) -> str:
    query = filters.as_query()
    return reverse("subscribers") + (f"?{urlencode(query)}" if query else "")


@operator_required
@require_GET
def index(request: OperatorRequest) -> HttpResponse:
    filters = _filters(request, request.GET)
    try:
        result = browse.page(filters, request.GET.get("after", ""))
    except InvalidInput as exc:
        messages.error(request, str(exc))
        return redirect(_list_url(filters))
    query = filters.as_query()
    context = {
        "page": result,
        "filters": filters,
        "query": urlencode(query),
        "next_url": "?" + urlencode({**query, "after": result.next_cursor}),
        "first_url": "?" + urlencode(query),
        "sorts": _sort_links(filters),
        "lists": request.access.lists(),
        "segments": Segment.objects.none() if request.access.restricted else Segment.objects.all(),
        "tags": Tag.objects.all()[:500],
        "statuses": Subscriber.Status.choices,
        "list_statuses": Subscription.Status.choices,
        "actions": BULK_ACTIONS,
    }
    template = "web/audience/subscribers.html"
    if request.htmx and request.htmx.target == "subscriber-table":
        template = "web/audience/_subscriber_table.html"
    return render(request, template, context)


def _sort_links(filters: browse.Filters) -> dict[str, dict[str, str]]:
    """For each sortable column: the link that sorts by it (flipping when already sorted)."""
    links = {}
    for column in ("email", "name", "created"):
        current = filters.sort.lstrip("-") == column
        descending = filters.sort.startswith("-")
        if current:
            target = column if descending else f"-{column}"
        else:
            target = f"-{column}" if column == "created" else column
        query = {**filters.as_query(), "sort": target}
        arrow = ("↓" if descending else "↑") if current else ""
        links[column] = {"url": "?" + urlencode(query), "arrow": arrow}
    return links


@operator_required
def new(request: OperatorRequest) -> HttpResponse:
    form = SubscriberForm(request.POST or None)
    form.fields["lists"].queryset = request.access.lists()  # type: ignore[attr-defined]
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            request.access.check_lists(data["lists"])
            theirs = request.access.someone_elses(data["email"])
            subscriber, created = services.upsert_subscriber(
                data["email"],
                "" if theirs else data["name"],
                list(data["lists"]),
                source="admin",
                ip=None,
                attributes=None if theirs else data["attributes"],
            )
        except PostroomError as exc:
            form.add_error(None, str(exc))
        else:
            if theirs:
                done = _(
                    "%(email)s already existed on other lists: added to yours,"
                    " name and fields unchanged."
                )
            elif created:
                done = _("%(email)s added.")
            else:
                done = _("%(email)s already existed and was updated.")
            messages.success(request, done % {"email": subscriber.email})
            return redirect("subscriber_detail", subscriber.pk)
    status = 400 if form.errors else 200
    return render(request, "web/audience/subscriber_new.html", {"form": form}, status=status)


@operator_required
def detail(request: OperatorRequest, subscriber_id: int) -> HttpResponse:
    subscriber = _subscriber(subscriber_id)
    tags = ", ".join(subscriber.tags.values_list("name", flat=True))
    initial = {"name": subscriber.name, "attributes": subscriber.attributes, "tags": tags}
    form = SubscriberEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        services.update_subscriber(
            subscriber,
            name=form.cleaned_data["name"],
            attributes=form.cleaned_data["attributes"],
            tags=form.cleaned_data["tags"],
        )
        messages.success(request, _("Subscriber saved."))
        return redirect("subscriber_detail", subscriber.pk)
    subscriptions = subscriber.subscriptions.select_related("mailing_list").order_by(
        "mailing_list__name"
    )
    if request.access.list_ids is not None:  # what `restricted` means
        subscriptions = subscriptions.filter(mailing_list__in=request.access.list_ids)
    joined = {s.mailing_list_id for s in subscriptions}
    context = {
        "subscriber": subscriber,
        "form": form,
        "subscriptions": subscriptions,
        "other_lists": request.access.lists().exclude(pk__in=joined),
        "suppression": services.suppression_for(subscriber.email),
    }
    status = 400 if form.errors else 200
    return render(request, "web/audience/subscriber_detail.html", context, status=status)


@operator_required
@require_POST
def subscriptions(request: OperatorRequest, subscriber_id: int) -> HttpResponse:
    """Subscribe to a list, unsubscribe from one, or from everything."""
    subscriber = _subscriber(subscriber_id)
    action = request.POST.get("action")
    lists = request.access.lists()
    try:
        if action == "subscribe":
            mailing_list = lists.filter(pk=as_id(request.POST.get("list") or "") or 0).first()
            if mailing_list is None:
                raise InvalidInput(_("choose a list"))
            services.join_lists(subscriber, [mailing_list], source="admin")
            messages.success(request, _("Subscribed to %(list)s.") % {"list": mailing_list.name})
        elif action == "unsubscribe":
            mailing_list = lists.filter(pk=as_id(request.POST.get("list") or "") or 0).first()
            if mailing_list is None:
                raise InvalidInput(_("choose a list"))
            services.unsubscribe(subscriber, [mailing_list], source="admin")
            messages.success(
                request, _("Unsubscribed from %(list)s.") % {"list": mailing_list.name}
            )
        elif action == "unsubscribe_all":
            request.access.check_whole_person()
            services.unsubscribe(subscriber, None, source="admin")
            messages.success(request, _("Unsubscribed from everything; the address is suppressed."))
        else:
            raise InvalidInput(_("unknown action"))
    except PostroomError as exc:
        messages.error(request, str(exc))
    return redirect("subscriber_detail", subscriber.pk)


@operator_required
@require_POST
def set_status(request: OperatorRequest, subscriber_id: int) -> HttpResponse:
    subscriber = _subscriber(subscriber_id)
    try:
        request.access.check_whole_person()
    except PostroomError as exc:
        raise PermissionDenied(str(exc)) from None
    if request.POST.get("action") == "unblocklist":
        services.set_status(subscriber, Subscriber.Status.ACTIVE, source="admin")
        messages.success(request, _("%(email)s is active again.") % {"email": subscriber.email})
    else:
        services.set_status(subscriber, Subscriber.Status.BLOCKLISTED, source="admin")
        messages.success(request, _("%(email)s is blocklisted.") % {"email": subscriber.email})
    return redirect("subscriber_detail", subscriber.pk)


@operator_required
def erase(request: OperatorRequest, subscriber_id: int) -> HttpResponse:
    subscriber = _subscriber(subscriber_id)
    try:
        request.access.check_whole_person()
    except PostroomError as exc:
        raise PermissionDenied(str(exc)) from None
    if request.method == "POST":
        services.erase(subscriber)
        messages.success(request, _("%(email)s was erased.") % {"email": subscriber.email})
        return redirect("subscribers")
    return render(request, "web/audience/subscriber_erase.html", {"subscriber": subscriber})


@operator_required
@require_POST
def bulk_action(request: OperatorRequest) -> HttpResponse:
    """First POST: show what will happen to how many; second POST (confirm=1): do it."""
    post = request.POST
    filters = _filters(request, post)
    action = post.get("action", "")
    scope = "all" if post.get("scope") == "all" else "selected"
    ids = [int(i) for i in post.getlist("ids") if i.isdigit()]
    back = _list_url(filters)
    if action not in BULK_ACTIONS:
        messages.error(request, _("Choose an action."))
        return redirect(back)
    if scope == "selected" and not ids:
        messages.error(request, _("Select some subscribers, or choose “all matching”."))
        return redirect(back)
    if action in ("blocklist", "delete") and request.access.restricted:
        messages.error(
            request, _("Blocklisting or erasing changes every list a person is on; ask an admin.")
        )
        return redirect(back)
    targets = browse.filtered(filters) if scope == "all" else services.subscribers_in(ids)
    targets = request.access.subscribers(targets)
    target_list = (
        request.access.lists().filter(pk=as_id(post.get("target_list") or "") or 0).first()
    )
    tag_name = post.get("tag_name", "").strip()
    if action == "add_to_list" and target_list is None:
        messages.error(request, _("Choose the list to add them to."))
        return redirect(back)
    if action in ("tag", "untag") and not tag_name:
        messages.error(request, _("Give the tag name."))
        return redirect(back)
    if post.get("confirm") != "1":
        count = targets.count()
        context = {
            "action": action,
            "action_label": BULK_ACTIONS[action],
            "scope": scope,
            "ids": ids,
            "count": count,
            "filters": filters,
            "filter_fields": filters.as_query(),
            "target_list": target_list,
            "tag_name": tag_name,
            "back": back,
        }
        return render(request, "web/audience/bulk_confirm.html", context)
    try:
        changed = bulk.run(action, targets, target_list, tag_name, source="admin")
    except PostroomError as exc:
        messages.error(request, str(exc))
        return redirect(back)
    messages.success(
        request,
        _("%(action)s: %(count)s subscriber(s) changed.")
        % {"action": BULK_ACTIONS[action], "count": f"{changed:,}"},
    )
    return redirect(back)
