"""The local capture outbox: what would have been sent, message by message."""

from email import policy
from email.parser import BytesParser

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from postroom.delivery.models import OutboxMessage
from postroom.web.permissions import operator_required


def _message(message_id: int) -> OutboxMessage:
    try:
        return OutboxMessage.objects.get(pk=message_id)
    except OutboxMessage.DoesNotExist:
        raise Http404("No such message") from None


@operator_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    rows = OutboxMessage.objects.defer("data").order_by("-id")
    if query:
        rows = rows.filter(rcpt_to__icontains=query)
    page = Paginator(rows, 50, allow_empty_first_page=True).get_page(request.GET.get("page"))
    return render(request, "web/delivery/outbox.html", {"page": page, "q": query})


@operator_required
@require_GET
def detail(request: HttpRequest, message_id: int) -> HttpResponse:
    message = _message(message_id)
    parsed = BytesParser(policy=policy.default).parsebytes(bytes(message.data))
    html = parsed.get_body(("html",))
    text = parsed.get_body(("plain",))
    context = {
        "message": message,
        "headers": list(parsed.items()),
        # Shown in a sandboxed frame without scripts: the HTML is whatever the template made.
        "html": html.get_content() if html is not None else "",
        "text": text.get_content() if text is not None else "",
    }
    return render(request, "web/delivery/outbox_message.html", context)


@operator_required
@require_GET
def raw(request: HttpRequest, message_id: int) -> HttpResponse:
    message = _message(message_id)
    response = HttpResponse(bytes(message.data), content_type="message/rfc822")
    response["Content-Disposition"] = f'attachment; filename="message-{message.pk}.eml"'
    return response
