"""The Bounces page: every bounce and complaint, filtered; one report as it came; un-suppress.

Also shows the bounce mailboxes the worker polls (web.views.mailboxes edits them).
"""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from postroom.audience.emails import email_hash
from postroom.audience.models import Suppression
from postroom.campaigns.models import Campaign
from postroom.delivery.models import Sender
from postroom.errors import PostroomError
from postroom.tracking import lifts, mailboxes
from postroom.tracking.bounce_query import filtered
from postroom.tracking.models import Bounce, BounceMailbox
from postroom.web.permissions import OperatorRequest, operator_required


@operator_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    rows, filters = filtered(request.GET)
    page = Paginator(rows, 50, allow_empty_first_page=True).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    now = timezone.now()
    boxes = [
        {"box": box, "state": mailboxes.state(box), "due": box.next_poll_at <= now}
        for box in BounceMailbox.objects.select_related("sender")
    ]
    context = {
        "page": page,
        "filters": filters,
        "query": query.urlencode(),
        "kinds": Bounce.Kind.values,
        "sources": Bounce.objects.order_by("source").values_list("source", flat=True).distinct(),
        "campaigns": Campaign.objects.filter(bounces__isnull=False)
        .distinct()
        .order_by("-id")[:200],
        "senders": Sender.objects.all(),
        "mailboxes": boxes,
    }
    return render(request, "web/tracking/bounces.html", context)


def _bounce(bounce_id: int) -> Bounce:
    try:
        return Bounce.objects.select_related("campaign", "lifted_by").get(pk=bounce_id)
    except Bounce.DoesNotExist:
        raise Http404("No such bounce") from None


@operator_required
@require_GET
def detail(request: HttpRequest, bounce_id: int) -> HttpResponse:
    bounce = _bounce(bounce_id)
    suppression = Suppression.objects.filter(email_hash=email_hash(bounce.email)).first()
    context = {
        "bounce": bounce,
        "suppression": suppression,
        "liftable": suppression is not None and suppression.reason in lifts.LIFTABLE,
        "others": Bounce.objects.filter(email=bounce.email).exclude(pk=bounce.pk)[:20],
    }
    return render(request, "web/tracking/bounce_detail.html", context)


@operator_required
@require_POST
def lift(request: OperatorRequest, bounce_id: int) -> HttpResponse:
    bounce = _bounce(bounce_id)
    try:
        lifts.lift(bounce, request.user, request.POST.get("reason", ""))
    except PostroomError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            _("%(email)s may be mailed again; your reason is on record.") % {"email": bounce.email},
        )
    return redirect("bounce_detail", bounce_id=bounce.pk)
