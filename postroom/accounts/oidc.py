"""OpenID Connect through mozilla-django-oidc, with the provider's endpoints discovered.

mozilla-django-oidc wants each endpoint as a setting; Postroom asks only for the issuer
and reads the rest from `ISSUER/.well-known/openid-configuration`, once per process and
hour, and only when someone signs in that way: a provider that is down never slows or
breaks the password log-in (the backend is asked about every log-in). The library
checks the ID token's signature; this module also checks who issued it and for whom.
Who the person is in Postroom is decided in accounts/sso.py.
"""

import time
from typing import Any

import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import SuspiciousOperation
from django.utils.translation import gettext
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.utils import import_from_settings

from postroom.accounts import sso
from postroom.errors import ConfigurationError

DISCOVERY_SECONDS = 3600
# mozilla-django-oidc's setting name → the discovery document's key.
DISCOVERED = {
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
    "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",
    "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
    "OIDC_OP_JWKS_ENDPOINT": "jwks_uri",
}
# Why a sign-in was refused, left on the request for the callback view to show.
REFUSAL = "postroom_sso_refusal"

_cache: dict[str, tuple[float, dict[str, Any]]] = {}


class ProviderUnavailable(ConfigurationError):
    """The provider's discovery document could not be read, or does not fit."""


def discovery() -> dict[str, Any]:
    issuer = settings.POSTROOM_OIDC_ISSUER
    cached = _cache.get(issuer)
    if cached is not None and time.monotonic() - cached[0] < DISCOVERY_SECONDS:
        return cached[1]
    url = issuer + "/.well-known/openid-configuration"
    try:
        answer = requests.get(url, timeout=settings.OIDC_TIMEOUT)
        answer.raise_for_status()
        document = answer.json()
    except (requests.RequestException, ValueError) as exc:
        raise ProviderUnavailable(
            gettext("cannot read %(url)s: %(error)s") % {"url": url, "error": exc}
        ) from None
    if not isinstance(document, dict) or document.get("issuer", "").rstrip("/") != issuer:
        raise ProviderUnavailable(
            gettext("%(url)s names another issuer; set POSTROOM_OIDC_ISSUER to the provider's own")
            % {"url": url}
        )
    missing = [key for key in DISCOVERED.values() if not document.get(key)]
    if missing:
        raise ProviderUnavailable(
            gettext("%(url)s gives no %(keys)s") % {"url": url, "keys": ", ".join(missing)}
        )
    _cache[issuer] = (time.monotonic(), document)
    return document


def setting(attr: str, *default: Any) -> Any:
    """A mozilla-django-oidc setting: an endpoint from discovery, the rest from settings."""
    if attr in DISCOVERED:
        return discovery()[DISCOVERED[attr]]
    return import_from_settings(attr, *default)


class ProviderBackend(OIDCAuthenticationBackend):
    """The authentication backend for the OIDC callback; None for anything else."""

    get_settings = staticmethod(setting)
    # Django's own: it refuses inactive users, which the library's version does not.
    get_user = ModelBackend.get_user
    user_can_authenticate = ModelBackend.user_can_authenticate

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Not the library's __init__: it would read every endpoint (so discover the
        # provider) on each password log-in too.
        self.UserModel = get_user_model()

    OIDC_RP_IDP_SIGN_KEY = None
    OIDC_OP_TOKEN_ENDPOINT = property(lambda self: setting("OIDC_OP_TOKEN_ENDPOINT"))
    OIDC_OP_USER_ENDPOINT = property(lambda self: setting("OIDC_OP_USER_ENDPOINT"))
    OIDC_OP_JWKS_ENDPOINT = property(lambda self: setting("OIDC_OP_JWKS_ENDPOINT"))
    OIDC_RP_CLIENT_ID = property(lambda self: settings.OIDC_RP_CLIENT_ID)
    OIDC_RP_CLIENT_SECRET = property(lambda self: settings.OIDC_RP_CLIENT_SECRET)
    OIDC_RP_SIGN_ALGO = property(lambda self: settings.OIDC_RP_SIGN_ALGO)

    def authenticate(self, request, **kwargs):
        if not sso.enabled() or request is None or "code" not in request.GET:
            return None
        return super().authenticate(request, **kwargs)

    def verify_token(self, token, **kwargs):
        payload = super().verify_token(token, **kwargs)
        audience = payload.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if str(payload.get("iss", "")).rstrip("/") != settings.POSTROOM_OIDC_ISSUER:
            raise SuspiciousOperation(gettext("the ID token comes from another issuer"))
        if settings.OIDC_RP_CLIENT_ID not in audiences:
            raise SuspiciousOperation(gettext("the ID token is meant for another client"))
        return payload

    def get_or_create_user(self, access_token, id_token, payload):
        userinfo = self.get_userinfo(access_token, id_token, payload)
        if str(userinfo.get("sub", "")) != str(payload.get("sub", "")):
            raise SuspiciousOperation(
                gettext("the user info is about someone else than the ID token")
            )
        claims = {**payload, **userinfo}
        try:
            return sso.sign_in(claims)
        except sso.SignInRefused as exc:
            setattr(self.request, REFUSAL, (str(exc), str(claims.get("preferred_username", ""))))
            return None
