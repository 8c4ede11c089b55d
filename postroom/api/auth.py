"""Who may call the API: staff users, by bearer token or by their UI session (with CSRF)."""

from django.http import HttpRequest
from django.utils import timezone
from ninja.security import HttpBearer, SessionAuthIsStaff

from postroom.api.models import ApiToken, hash_token


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str):
        found = ApiToken.objects.select_related("user").filter(token_hash=hash_token(token)).first()
        if found is None or not (found.user.is_active and found.user.is_staff):
            return None
        ApiToken.objects.filter(pk=found.pk).update(last_used_at=timezone.now())
        request.user = found.user
        return found.user


def operator_auth() -> list:
    """Bearer tokens for scripts; the staff session (CSRF-checked) for Postroom's own pages."""
    return [TokenAuth(), SessionAuthIsStaff()]
