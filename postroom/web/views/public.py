"""Public pages reached from a campaign's signed links: unsubscribe (and subscribe again),
preferences, read online.

No login: the token in the URL is the only credential. A forged or altered
token, or one for somebody who no longer exists, gets a plain 404 that says
nothing about who or what it named.
"""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils import translation
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from postroom.audience.models import MailingList
from postroom.campaigns.models import Campaign
from postroom.errors import InvalidInput, NotAllowed, NotFound
from postroom.http import client_ip
from postroom.public import archive
from postroom.public.branding import brand_for
from postroom.tracking import actions, links
from postroom.tracking.models import UnsubscribeEvent
from postroom.web.branded import list_of, public_language, render_public

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


def campaign_page(html: str) -> HttpResponse:
    """An email shown as a web page: sandboxed, sending no referrer."""
    response = HttpResponse(html, content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = VIEW_CSP
    response["Referrer-Policy"] = "no-referrer"
    return response


def _context(target: actions.LinkTarget, token: str) -> dict[str, Any]:
    return {
        "target": target,
        "token": token,
        "prefs_token": links.default_signer().token("p", target.subscriber.pk),
    }


# A mail client's one-click POST (RFC 8058) carries no CSRF token and cannot:
# the signed token in the URL is what proves the request is genuine.
@csrf_exempt
@require_http_methods(["GET", "POST"])
@private_page
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    target = actions.resolve(token, "unsubscribe")
    context = _context(target, token)
    brand_list = list_of(target.campaign)
    if request.method == "GET":
        # Link scanners follow GET links: they must never unsubscribe anyone.
        return render_public(
            request,
            "web/public/unsubscribe.html",
            context,
            brand_list,
            subscriber=target.subscriber,
        )
    one_click = request.POST.get("List-Unsubscribe") == "One-Click"
    method = UnsubscribeEvent.Method.ONE_CLICK if one_click else UnsubscribeEvent.Method.LINK
    actions.unsubscribe_everything(target, method)
    # A way back, should the click have been a mistake (a CSRF-checked POST: resubscribe).
    context["rejoin"] = actions.lists_left(target)
    return render_public(
        request, "web/public/unsubscribed.html", context, brand_list, subscriber=target.subscriber
    )


@require_POST
@private_page
def resubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """ "Subscribe again" on the unsubscribed page: the same signed link, and a CSRF token."""
    target = actions.resolve(token, "unsubscribe")
    context = _context(target, token)
    brand_list = list_of(target.campaign)
    page = "web/public/resubscribed.html"
    # A confirmation email this sends speaks the language this page does.
    language = public_language(request, brand_list, target.subscriber)
    try:
        context["done"] = actions.resubscribe(target, client_ip(request), language=language)
    except NotAllowed as exc:
        context["problem"] = str(exc)
        return render_public(request, page, context, brand_list, 403, subscriber=target.subscriber)
    return render_public(request, page, context, brand_list, subscriber=target.subscriber)


@require_http_methods(["GET", "POST"])
@private_page
def preferences(request: HttpRequest, token: str) -> HttpResponse:
    target = actions.resolve(token, "preferences")
    left = []
    if request.method == "POST" and request.POST.get("everything"):
        actions.unsubscribe_everything(target, UnsubscribeEvent.Method.PREFERENCES)
        return render_public(
            request,
            "web/public/unsubscribed.html",
            {"target": target},
            subscriber=target.subscriber,
        )
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
    return render_public(
        request, "web/public/preferences.html", context, subscriber=target.subscriber
    )


@require_http_methods(["GET"])
@private_page
def view_in_browser(request: HttpRequest, token: str) -> HttpResponse:
    target = actions.resolve(token, "view")
    _, html = actions.view_in_browser(target)
    archives = archive.archives_of(target.campaign) if target.campaign else []
    banner = ""
    if archives:  # a campaign in the public archive says where to find the others
        with translation.override(public_language(request, archives[0], target.subscriber)):
            banner = archive_banner(archives[0], "view")
    return campaign_page(archive.as_web_page(html, banner))


def archive_banner(mailing_list: MailingList, kind: str, campaign: Campaign | None = None) -> str:
    """The bar above an email shown on the web, in the list's brand, leading to its archive.

    Inline styles only: campaign pages allow no stylesheet of ours (VIEW_CSP).
    """
    return render_to_string(
        "web/public/_archive_banner.html",
        {
            "kind": kind,
            "list": mailing_list,
            "campaign": campaign,
            "brand": brand_for(mailing_list),
            "archive_url": archive.archive_url(mailing_list),
            "feed_url": archive.feed_url(mailing_list),
        },
    )
