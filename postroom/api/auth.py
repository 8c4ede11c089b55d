"""Who may call the API: staff users, by token (Bearer or HTTP Basic) or by their UI session.

A request that carries an `Authorization` header is judged by that header
alone: a wrong or unknown token is 401, never a CSRF 403 from the session
check behind it (a script has no session). The session is only for
Postroom's own pages, and only with its CSRF token.

HTTP Basic is what listmonk's clients send (`api_user:token`): the token is
the password, and the user part must name the token's user or the token
itself, so a leaked Basic header says no more than the bearer form would.
"""

from datetime import timedelta

from django.http import HttpRequest
from django.utils import timezone
from ninja.errors import HttpError
from ninja.security import HttpBasicAuth, HttpBearer, SessionAuthIsStaff

from postroom.accounts import roles
from postroom.accounts.models import Role
from postroom.api import scope
from postroom.api.models import ApiToken, hash_token

# The API's areas that need more than "reading needs viewer, changing needs editor",
# as the same areas of the admin pages do (accounts.roles): (path prefix, methods or
# None for all, role). Senders and webhooks decide where mail and data go.
AREA_ROLES: list[tuple[str, frozenset[str] | None, Role]] = [
    ("/api/webhooks", None, Role.ADMIN),
    ("/api/bounces/mailboxes", None, Role.ADMIN),
    ("/api/senders", frozenset({"POST", "PATCH", "PUT", "DELETE"}), Role.ADMIN),
]
# Files of personal data: not for viewers (accounts.roles.EXPORT_ROUTES).
EXPORT_SUFFIXES = ("/export", ".csv")
# A token's `last_used_at` is rewritten only once it is this old: a write on every call
# would make each read a write and queue a busy token's calls on SQLite's one write
# lock (bench/tx.py). "Last used" is so true to within a minute.
LAST_USED_PRECISION = timedelta(seconds=60)


def needed_role(method: str, path: str) -> Role:
    """The least role that may make this API call."""
    for prefix, methods, role in AREA_ROLES:
        if path.startswith(prefix) and (methods is None or method in methods):
            return role
    if path.endswith(EXPORT_SUFFIXES):
        return Role.EDITOR
    return roles.required_role(None, method)


def check_role(request: HttpRequest, user) -> None:
    """A token or session carries its user's role, read now (a demotion applies at once):
    a viewer reads, an editor may change, the areas above need more; a token's scopes
    only narrow that. Raises 403 with the reason, as the admin pages do."""
    method = (request.method or "GET").upper()
    role = roles.role_of(user)
    needed = needed_role(method, request.path)
    if not roles.at_least(role, needed):
        raise HttpError(403, roles.refusal(role, needed))
    token = scope.token_of(request)
    why = token and scope.refusal(token, method, request.path)
    if why:
        raise HttpError(403, why[0].upper() + why[1:] + ".")


def user_for_token(request: HttpRequest, secret: str, username: str | None = None):
    """The active staff user a token belongs to, or None; notes when it was last used."""
    if not secret:
        return None
    found = (
        ApiToken.objects.select_related("user", "user__postroom_profile")  # the role, same query
        .filter(token_hash=hash_token(secret))
        .order_by()
        .first()
    )
    if found is None or not (found.user.is_active and found.user.is_staff):
        return None
    if username is not None and username not in (found.user.get_username(), found.name):
        return None
    note_use(found)
    request.user = found.user
    request.api_token = found  # type: ignore[attr-defined]
    check_role(request, found.user)
    return found.user


def note_use(token: ApiToken) -> None:
    """Record that the token was used now, unless it was already within the precision."""
    now = timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_PRECISION:
        return
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    token.last_used_at = now


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
