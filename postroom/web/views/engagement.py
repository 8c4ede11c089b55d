"""Public endpoints of open and click tracking: the 1x1 pixel and the click redirect.

No login: the signed token is the credential. A forged or altered token, or a
link number the campaign does not contain, is a 404 — the redirect can only
lead to an address the campaign itself stored (tracking.activity), never to
one named in the request.
"""

import base64

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.views.decorators.http import require_GET

from postroom.errors import InvalidInput, NotFound
from postroom.http import client_ip
from postroom.tracking import activity

# The smallest transparent GIF (43 bytes).
PIXEL_GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


def _user_agent(request: HttpRequest) -> str:
    return request.META.get("HTTP_USER_AGENT", "")[:500]


def _uncached(response: HttpResponse) -> HttpResponse:
    # Every load or click should reach us, and nothing personal should be kept on the way.
    response["Cache-Control"] = "private, no-store, max-age=0"
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"
    return response


@require_GET
def open_pixel(request: HttpRequest, token: str) -> HttpResponse:
    try:
        activity.record_open(token, client_ip(request), _user_agent(request))
    except (InvalidInput, NotFound):
        raise Http404("This link is not valid.") from None
    return _uncached(HttpResponse(PIXEL_GIF, content_type="image/gif"))


@require_GET
def click(request: HttpRequest, token: str) -> HttpResponse:
    try:
        url = activity.follow_click(token, client_ip(request), _user_agent(request))
    except (InvalidInput, NotFound):
        raise Http404("This link is not valid.") from None
    return _uncached(HttpResponseRedirect(url))
