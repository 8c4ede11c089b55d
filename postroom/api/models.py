"""API tokens: bearer credentials for scripts, stored only as a hash."""

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from postroom.storedtext import gettext_noop

TOKEN_PREFIX = "pr_"

# What a token may be narrowed to (api.scope reads them); none: all its user's role allows.
# In English for the API and the audit log; the tokens page translates them (gettext_noop).
SCOPES = {
    "read": gettext_noop("read only: no change of any kind"),
    "subscribers": gettext_noop("subscribers (and reading lists and segments)"),
    "send": gettext_noop("campaigns and transactional mail (and reading what they use)"),
}


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ApiToken(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    name = models.CharField(max_length=100)
    token_hash = models.CharField(max_length=64, unique=True)
    # The first characters, so a person can tell tokens apart without the secret.
    hint = models.CharField(max_length=12)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    # Narrowing only: a token never does more than its user's role allows at the time of use.
    scopes = models.JSONField(default=list, blank=True)
    # When any: the token sees only these lists, their subscribers, and mails only them.
    lists = models.ManyToManyField("audience.MailingList", blank=True, related_name="+")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.hint}…)"

    @classmethod
    def issue(
        cls, user, name: str, scopes: list[str] | None = None, lists=()
    ) -> tuple["ApiToken", str]:
        """Create a token; the secret is returned once and never stored."""
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(
            user=user,
            name=name,
            token_hash=hash_token(secret),
            hint=secret[:10],
            scopes=sorted(set(scopes or [])),
        )
        if lists:
            token.lists.set(lists)
        return token, secret
