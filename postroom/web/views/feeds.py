"""Feed screens: the list with each feed's last check and items, the editor, check now."""

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from postroom.errors import NotFound, PostroomError
from postroom.feeds import services
from postroom.feeds.forms import FeedForm
from postroom.feeds.models import Feed, FeedItem
from postroom.web.permissions import OperatorRequest, operator_required

RECENT_ITEMS = 20


def _feed(feed_id: int) -> Feed:
    try:
        return services.get_feed(feed_id)
    except NotFound:
        raise Http404("No such feed") from None


@operator_required
@require_GET
def index(request: OperatorRequest) -> HttpResponse:
    feeds = services.all_feeds()
    counts = services.items_seen(feeds)
    rows = [{"feed": f, **counts.get(f.pk, {"seen": 0, "waiting": 0})} for f in feeds]
    return render(request, "web/feeds/index.html", {"rows": rows})


def _editor(request: OperatorRequest, feed: Feed | None) -> HttpResponse:
    instance = feed or Feed(template=services.DEFAULT_TEMPLATE)
    form = FeedForm(request.POST or None, instance=instance)
    problem = ""
    if request.method == "POST" and form.is_valid():
        try:
            if feed is None:
                saved = services.create_feed(**form.service_fields())
                messages.success(
                    request,
                    _("Feed “%(name)s” added: a worker checks it soon.") % {"name": saved.name},
                )
            else:
                saved = services.update_feed(feed, **form.service_fields())
                messages.success(request, _("Feed saved."))
            return redirect("feed_edit", saved.pk)
        except PostroomError as exc:
            problem = str(exc)
    context: dict[str, Any] = {"form": form, "feed": feed, "problem": problem}
    if feed is not None:
        items = list(
            FeedItem.objects.filter(feed=feed)
            .select_related("campaign")
            .order_by("-pk")[:RECENT_ITEMS]
        )
        for item in items:  # the feed's text is not ours: only a web address becomes a link
            item.safe_link = item.link if item.link.startswith(("http://", "https://")) else ""  # type: ignore[attr-defined]
        context["items"] = items
        context["counts"] = services.items_seen([feed]).get(feed.pk, {"seen": 0, "waiting": 0})
    return render(request, "web/feeds/edit.html", context, status=400 if problem else 200)


@operator_required
def new(request: OperatorRequest) -> HttpResponse:
    return _editor(request, None)


@operator_required
def edit(request: OperatorRequest, feed_id: int) -> HttpResponse:
    return _editor(request, _feed(feed_id))


@operator_required
@require_POST
def check(request: OperatorRequest, feed_id: int) -> HttpResponse:
    """Due now; the worker's side thread fetches it (a slow feed never holds up the page)."""
    feed = _feed(feed_id)
    services.check_soon(feed)
    messages.info(
        request,
        _("“%(name)s” is checked within seconds by a running worker.") % {"name": feed.name},
    )
    return redirect("feed_edit", feed.pk)


@operator_required
@require_POST
def delete(request: OperatorRequest, feed_id: int) -> HttpResponse:
    feed = _feed(feed_id)
    services.delete_feed(feed)
    messages.success(
        request,
        _("Deleted “%(name)s”; digests already sent stay as campaigns.") % {"name": feed.name},
    )
    return redirect("feeds")
