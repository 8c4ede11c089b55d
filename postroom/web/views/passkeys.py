"""Passkey pages: add and remove your own on the two-factor page, sign in with one.

The browser side is static/postroom/passkeys.js (no inline script): it asks for the
ceremony's options, lets the authenticator answer, and posts the answer here as JSON.
Answers are JSON too: {"redirect": URL} or {"error": text} with 400. Failed sign-ins
count toward the same lockout (by address) as wrong passwords.
"""

from django.contrib import messages
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from postroom.accounts import audit, passkeys, throttle, twofactor
from postroom.errors import PostroomError
from postroom.http import client_ip
from postroom.web.permissions import OperatorRequest, operator_required

BACKEND = "django.contrib.auth.backends.ModelBackend"


def _options(json_text: str) -> HttpResponse:
    return HttpResponse(json_text, content_type="application/json")


def _refused(text: str) -> JsonResponse:
    return JsonResponse({"error": text}, status=400)


@require_POST
@operator_required
def register_options(request: OperatorRequest) -> HttpResponse:
    return _options(passkeys.registration_options(request.user, request.session))


@require_POST
@operator_required
def add(request: OperatorRequest) -> HttpResponse:
    try:
        data = passkeys.parse(request.body)
        passkey = passkeys.register(
            request.user, request.session, data["credential"], str(data.get("name", ""))
        )
    except PostroomError as exc:
        return _refused(str(exc))
    audit.record(request, "passkey added", target=passkey.name)
    messages.success(
        request,
        _("Passkey %(name)s added: you can sign in with it.") % {"name": repr(passkey.name)},
    )
    return JsonResponse({"redirect": reverse("two_factor")})


@require_POST
@operator_required
def remove(request: OperatorRequest, passkey_id: int) -> HttpResponse:
    try:
        name = passkeys.remove(request.user, passkey_id)
    except PostroomError as exc:
        messages.error(request, str(exc))
    else:
        audit.record(request, "passkey removed", target=name)
        messages.success(request, _("Passkey %(name)s removed.") % {"name": repr(name)})
    return redirect("two_factor")


@require_POST
def sign_in_options(request: HttpRequest) -> HttpResponse:
    return _options(passkeys.authentication_options(request.session))


@require_POST
def sign_in(request: HttpRequest) -> HttpResponse:
    ip = client_ip(request)
    if throttle.locked_for(None, ip) is not None:
        return _refused("Too many failed log-ins from your address: try again later.")
    try:
        data = passkeys.parse(request.body)
        user = passkeys.authenticate(request.session, data["credential"])
    except PostroomError as exc:
        throttle.record_failure("", ip)
        audit.record(request, "login failed", detail=f"passkey: {exc}")
        return _refused(f"Not signed in: {exc}.")
    wanted = str(data.get("next", ""))
    safe = url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    login(request, user, backend=BACKEND)
    request.session[twofactor.STRONG_LOGIN] = "passkey"
    return JsonResponse({"redirect": wanted if safe and wanted else resolve_url("dashboard")})
