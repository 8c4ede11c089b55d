"""Single sign-on pages: "Sign in with …" sends the browser to the provider, and the
provider sends it back to the callback, which logs the person in or says why not.

Both are mozilla-django-oidc's views, with the endpoints from discovery
(accounts/oidc.py) and Postroom's answers: a refusal, a cancelled sign-in or a
provider that cannot be reached is a message on the log-in page, never an error page.
Both are 404 while single sign-on is not configured.
"""

import requests
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.generic import View
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from postroom.accounts import audit, oidc, sso, twofactor


def _not_reached(request: HttpRequest, exc: Exception) -> HttpResponse:
    name = settings.POSTROOM_OIDC_NAME
    audit.record(request, "login failed", detail=f"{name}: {exc}"[:1000])
    messages.error(
        request,
        _("Signing in with %(provider)s did not work (%(reason)s). Try again later.")
        % {"provider": name, "reason": exc},
    )
    return redirect("login")


class Start(OIDCAuthenticationRequestView):
    get_settings = staticmethod(oidc.setting)

    def __init__(self, **kwargs) -> None:
        View.__init__(self, **kwargs)  # the endpoint is discovered in get(), not here
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID

    def get(self, request: HttpRequest) -> HttpResponse:
        if not sso.enabled():
            raise Http404("single sign-on is not configured")
        try:
            self.OIDC_OP_AUTH_ENDPOINT = oidc.setting("OIDC_OP_AUTHORIZATION_ENDPOINT")
        except oidc.ProviderUnavailable as exc:
            return _not_reached(request, exc)
        return super().get(request)


class Callback(OIDCAuthenticationCallbackView):
    get_settings = staticmethod(oidc.setting)

    def get(self, request: HttpRequest) -> HttpResponse:
        if not sso.enabled():
            raise Http404("single sign-on is not configured")
        try:
            return super().get(request)
        except (requests.RequestException, oidc.ProviderUnavailable) as exc:
            return _not_reached(request, exc)
        except SuspiciousOperation as exc:
            # An old or replayed link (state unknown), or a token that does not check out.
            return _not_reached(request, exc)

    def login_success(self) -> HttpResponse:
        response = super().login_success()
        self.request.session[twofactor.STRONG_LOGIN] = "sso"
        return response

    def login_failure(self) -> HttpResponse:
        name = settings.POSTROOM_OIDC_NAME
        refusal = getattr(self.request, oidc.REFUSAL, None)
        error = self.request.GET.get("error", "")
        if refusal is not None:
            reason, username = refusal
            audit.record(
                self.request, "login refused", username=username, detail=f"{name}: {reason}"
            )
            messages.error(self.request, _("Not signed in: %(reason)s.") % {"reason": reason})
        elif error:
            messages.error(
                self.request,
                _("%(provider)s did not sign you in (%(reason)s).")
                % {"provider": name, "reason": error},
            )
        else:
            messages.error(
                self.request,
                _("Signing in with %(provider)s did not finish: start again.") % {"provider": name},
            )
        return redirect("login")


start = Start.as_view()
callback = Callback.as_view()
