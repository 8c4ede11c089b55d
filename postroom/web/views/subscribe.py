"""Public subscription forms and the double opt-in confirmation page (no login).

The answer to a form post is the same page whatever the address was (new,
subscribed, suppressed, blocklisted): see tracking.confirmations.
"""

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET, require_http_methods

from postroom.audience.emails import InvalidEmail
from postroom.audience.models import MailingList
from postroom.errors import InvalidInput, NotFound, TooMany
from postroom.http import client_ip
from postroom.tracking import captcha, confirmations, signups
from postroom.tracking.forms import (
    HONEYPOT,
    SubscribeForm,
    find_public_list,
    list_key,
    public_lists,
)
from postroom.web.branded import public_language, render_public


def _private(response: HttpResponse) -> HttpResponse:
    # Answers about one person's subscription are never cached or indexed.
    response["Cache-Control"] = "private, no-store"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    lists = public_lists()
    entries = [(ml, list_key(ml, lists)) for ml in lists]
    return render_public(request, "web/public/subscribe_index.html", {"entries": entries})


@require_http_methods(["GET", "POST"])
def subscribe(request: HttpRequest, key: str) -> HttpResponse:
    mailing_list = find_public_list(key)
    if mailing_list is None:
        raise Http404("no such list")
    context: dict[str, Any] = {"list": mailing_list, "honeypot": HONEYPOT}
    if request.method == "GET":
        context["form"] = SubscribeForm()
        return render_public(request, "web/public/subscribe.html", context, mailing_list)

    form = SubscribeForm(request.POST)
    context["form"] = form
    signup = signups.Signup(
        email=request.POST.get("email", ""),
        name=request.POST.get("name", ""),
        lists=[str(mailing_list.uuid)],
        attributes={
            k.removeprefix("attributes."): v
            for k, v in request.POST.items()
            if k.startswith("attributes.")
        },
        bot=form.is_bot,
        captcha=request.POST.get(captcha.FIELD),
        language=public_language(request, mailing_list),
    )
    try:
        # The CSRF check already tied this post to this site: no origin to check.
        signups.accept(signup, client_ip(request), origin=None)
    except TooMany:
        context["limited"] = True
        return _private(
            render_public(request, "web/public/subscribe.html", context, mailing_list, 429)
        )
    except InvalidEmail:  # the form shows it under the field, in its own words
        return _private(
            render_public(request, "web/public/subscribe.html", context, mailing_list, 400)
        )
    except InvalidInput as exc:
        context["problem"] = str(exc)
        return _private(
            render_public(request, "web/public/subscribe.html", context, mailing_list, 400)
        )
    return _thanks(request, mailing_list)


def _thanks(request: HttpRequest, mailing_list: MailingList) -> HttpResponse:
    double = mailing_list.optin == MailingList.Optin.DOUBLE
    context = {"list": mailing_list, "double": double, "days": confirmations.CONFIRM_DAYS}
    return _private(
        render_public(request, "web/public/subscribe_thanks.html", context, mailing_list)
    )


@require_http_methods(["GET", "POST"])
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    try:
        pending = confirmations.pending(token)
    except confirmations.Expired:
        expired = {"expired": True, "days": confirmations.CONFIRM_DAYS}
        return _private(
            render_public(request, "web/public/confirm_invalid.html", expired, status=410)
        )
    except (InvalidInput, NotFound):
        return _private(render_public(request, "web/public/confirm_invalid.html", {}, status=404))

    context: dict[str, Any] = {
        "pending": pending,
        "list": pending.mailing_list,
        "email": pending.subscriber.email,
    }
    if request.method == "GET":
        # Link scanners follow GET links: only the button (a POST) confirms.
        context["done"] = pending.is_done
        page = "web/public/confirm.html"
    else:
        context["confirmed"] = confirmations.confirm_subscription(pending, client_ip(request))
        page = "web/public/confirm_done.html"
    return _private(
        render_public(request, page, context, pending.mailing_list, subscriber=pending.subscriber)
    )
