"""Who may call the API: staff users, by token (Bearer or HTTP Basic) or by their UI session.

A request that carries an `Authorization` header is judged by that header
alone: a wrong or unknown token is 401, never a CSRF 403 from the session
check behind it (a script has no session). The session is only for
Postroom's own pages, and only with its CSRF token.

HTTP Basic is what listmonk's clients send (`api_user:token`): the token is
the password, and the user part must name the token's user or the token
itself, so a leaked Basic header says no more than the bearer form would.
"""

from django.http import HttpRequest
from django.utils import timezone
from ninja.errors import HttpError
from ninja.security import HttpBasicAuth, HttpBearer, SessionAuthIsStaff

from postroom.accounts import roles
from postroom.api.models import ApiToken, hash_token


def check_role(request: HttpRequest, user) -> None:
    """A token or session carries its user's role: a viewer reads, an editor may change.
    Raises 403 with the reason, as the admin pages do."""
    role = roles.role_of(user)
    needed = roles.required_role(None, request.method or "GET")
    if not roles.at_least(role, needed):
        raise HttpError(403, roles.refusal(role, needed))


def user_for_token(request: HttpRequest, secret: str, username: str | None = None):
    """The active staff user a token belongs to, or None; notes when it was last used."""
    if not secret:
        return None
    found = ApiToken.objects.select_related("user").filter(token_hash=hash_token(secret)).first()
    if found is None or not (found.user.is_active and found.user.is_staff):
        return None
    if username is not None and username not in (found.user.get_username(), found.name):
        return None
    ApiToken.objects.filter(pk=found.pk).update(last_used_at=timezone.now())
    request.user = found.user
    check_role(request, found.user)
    return found.user


class TokenAuth(HttpBearer):
    """`Authorization: Bearer pr_…`"""

    def authenticate(self, request: HttpRequest, token: str):
        return user_for_token(request, token.strip())


class BasicTokenAuth(HttpBasicAuth):
    """`Authorization: Basic base64(api_user:token)`, as listmonk clients send it."""

    def authenticate(self, request: HttpRequest, username: str, password: str):
        return user_for_token(request, password, username)


class StaffSession(SessionAuthIsStaff):
    """The logged-in staff user of the UI, CSRF-checked; never when a header names a token."""

    def __call__(self, request: HttpRequest):
        if "authorization" in request.headers:
            return None
        if not request.user.is_authenticated:
            return None  # nobody to check CSRF for: the answer is 401
        user = super().__call__(request)
        if user is not None:
            check_role(request, user)
        return user


def operator_auth() -> list:
    """Tokens for scripts (Bearer or Basic); the staff session for Postroom's own pages."""
    return [TokenAuth(), BasicTokenAuth(), StaffSession()]
