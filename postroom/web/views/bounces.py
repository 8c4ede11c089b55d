"""POST /webhooks/bounce: a bounce or complaint message delivered by a mail server hook.

The body is the raw RFC 822 message (a DSN or an ARF report), as a Postfix
pipe or a provider's "forward raw message" webhook sends it. Protected by a
bearer token from POSTROOM_BOUNCE_TOKEN; without one the endpoint does not
exist (404), so nothing is exposed by default.
"""

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from postroom.web.views.metrics import _authorized


# A mail server has no CSRF token; the bearer token is what authenticates it.
@csrf_exempt
@require_POST
def webhook(request: HttpRequest) -> HttpResponse:
    from postroom.tracking import bounces

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
