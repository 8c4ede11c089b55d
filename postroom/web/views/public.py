"""Public pages reached from a campaign's signed links: unsubscribe, preferences, read online.

No login: the token in the URL is the only credential. A forged or altered
token, or one for somebody who no longer exists, gets a plain 404 that says
nothing about who or what it named.
"""

from collections.abc import Callable
from functools import wraps

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from postroom.errors import InvalidInput, NotFound
from postroom.tracking import actions, links
from postroom.tracking.models import UnsubscribeEvent

# Campaign HTML is author-written: shown on our own origin it may not run
# scripts or submit forms; images and styles still load as in a mail client.
VIEW_CSP = (
    "default-src 'none'; img-src https: http: data:; style-src 'unsafe-inline' https:; "
    "font-src https: data:; sandbox allow-popups allow-popups-to-escape-sandbox "
    "allow-top-navigation-by-user-activation"
)


def private_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Personal pages are never cached or indexed, and a bad token is just a 404."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            response = view(request, *args, **kwargs)
        except (InvalidInput, NotFound):
            raise Http404("This link is not valid.") from None
        response["Cache-Control"] = "private, no-store"
        response["X-Robots-Tag"] = "noindex, nofollow"
        return response

    return wrapper


# A mail client's one-click POST (RFC 8058) carries no CSRF token and cannot:
# the signed token in the URL is what proves the request is genuine.
@csrf_exempt
@require_http_methods(["GET", "POST"])
@private_page
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    target = actions.resolve(token, "unsubscribe")
    context = {
        "target": target,
        "token": token,
        "prefs_token": links.default_signer().token("p", target.subscriber.pk),
    }
    if request.method == "GET":
        # Link scanners follow GET links: they must never unsubscribe anyone.
        return render(request, "web/public/unsubscribe.html", context)
    one_click = request.POST.get("List-Unsubscribe") == "One-Click"
    method = UnsubscribeEvent.Method.ONE_CLICK if one_click else UnsubscribeEvent.Method.LINK
    actions.unsubscribe_everything(target, method)
    return render(request, "web/public/unsubscribed.html", context)


@require_http_methods(["GET", "POST"])
@private_page
def preferences(request: HttpRequest, token: str) -> HttpResponse:
    target = actions.resolve(token, "preferences")
    left = []
    if request.method == "POST" and request.POST.get("everything"):
        actions.unsubscribe_everything(target, UnsubscribeEvent.Method.PREFERENCES)
        return render(request, "web/public/unsubscribed.html", {"target": target})
    if request.method == "POST":
        wanted = [int(i) for i in request.POST.getlist("lists") if i.isdigit()]
        left = actions.keep_only(target, wanted)
    context = {
        "target": target,
        "token": token,
        "lists": actions.current_lists(target.subscriber),
        "saved": request.method == "POST",
        "left": left,
    }
    return render(request, "web/public/preferences.html", context)


@require_http_methods(["GET"])
@private_page
def view_in_browser(request: HttpRequest, token: str) -> HttpResponse:
    target = actions.resolve(token, "view")
    _, html = actions.view_in_browser(target)
    response = HttpResponse(html, content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = VIEW_CSP
    response["Referrer-Policy"] = "no-referrer"
    return response
