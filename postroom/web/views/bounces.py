"""Webhooks that deliver bounces and complaints.

POST /webhooks/bounce: the body is the raw RFC 822 message (a DSN or an ARF
report), as a Postfix pipe or a provider's "forward raw message" webhook sends
it. Protected by a bearer token from POSTROOM_BOUNCE_TOKEN; without one the
endpoint does not exist (404), so nothing is exposed by default.

POST /webhooks/<provider> (ses, sendgrid, postmark, mailgun, sparkpost): the
provider's own events, checked by tracking.providers (a signature, or a secret
in the URL); 404 until that provider's setting is made, 403 for a forged request.
"""

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from postroom.errors import InvalidInput
from postroom.tracking import bounces
from postroom.tracking.providers import PROVIDERS
from postroom.tracking.providers.base import Forged
from postroom.web.views.metrics import _authorized


# A mail server has no CSRF token; the bearer token is what authenticates it.
@csrf_exempt
@require_POST
def webhook(request: HttpRequest) -> HttpResponse:
    token = settings.POSTROOM_BOUNCE_TOKEN
    if not token:
        raise Http404("the bounce webhook is off")
    if not _authorized(request, token):
        response = HttpResponse("a bearer token is needed\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="postroom bounces"'
        return response
    if not request.body.strip():
        return HttpResponse("the body must be the raw message\n", status=400)
    summary = bounces.ingest_messages([request.body], source="webhook")
    return JsonResponse(summary.as_dict())


# Providers sign their requests or send our secret; there is no session, so no CSRF.
@csrf_exempt
@require_POST
def provider_webhook(request: HttpRequest, provider: str) -> HttpResponse:
    module = PROVIDERS.get(provider)
    if module is None or not module.enabled():
        raise Http404("no such webhook, or it is off")
    headers = {name.lower(): value for name, value in request.headers.items()}
    try:
        events = module.receive(headers, request.body)
    except Forged as exc:
        return HttpResponse(f"refused: {exc}\n", status=403, content_type="text/plain")
    except InvalidInput as exc:
        return HttpResponse(f"{exc}\n", status=400, content_type="text/plain")
    summary = bounces.ingest_events(events, source=provider)
    return JsonResponse(summary.as_dict())
