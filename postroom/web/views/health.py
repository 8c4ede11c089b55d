"""/health: JSON for load balancers and uptime monitors; 200 when sending can happen, else 503.

Public unless POSTROOM_HEALTH_TOKEN is set; then the token comes as
`Authorization: Bearer TOKEN` or `?token=TOKEN` (many uptime monitors can only
call a URL). No login, no session, no CSRF: it only reads.
"""

import hmac

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_safe

from postroom.delivery.health import report


def _authorized(request: HttpRequest, token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        given = request.GET.get("token", "")
    return hmac.compare_digest(given.strip().encode(), token.encode())


@require_safe
def health(request: HttpRequest) -> JsonResponse:
    token = settings.POSTROOM_HEALTH_TOKEN.strip()
    if token and not _authorized(request, token):
        response = JsonResponse({"error": "a valid token is needed"}, status=401)
        response["WWW-Authenticate"] = 'Bearer realm="postroom health"'
    else:
        data = report()
        response = JsonResponse(data, status=200 if data["ok"] else 503)
    response["Cache-Control"] = "no-store"
    return response
