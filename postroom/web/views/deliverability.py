"""A sender's deliverability check (delivery.deliverability) on its page, loaded on demand:
DNS lookups take up to a few seconds, so the page itself never waits for them."""

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from postroom.delivery import deliverability
from postroom.delivery.models import Sender
from postroom.errors import PostroomError
from postroom.web.permissions import operator_required


@operator_required
@require_GET
def sender_check(request: HttpRequest, sender_id: int) -> HttpResponse:
    try:
        sender = Sender.objects.get(pk=sender_id)
    except Sender.DoesNotExist:
        raise Http404("No such sender") from None
    context: dict = {"sender": sender, "checked_at": timezone.localtime()}
    try:
        context["report"] = deliverability.check(sender, request.GET.get("from", ""))
    except PostroomError as exc:
        context["error"] = str(exc)
    return render(request, "web/delivery/_deliverability.html", context)
