"""Accounts: each user's role, failed log-ins (the lockout's memory) and the audit log.

All three live in the database so they hold across every web process and machine.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    """From most to least powerful; each role can do everything the next one can."""

    OWNER = "owner", _("Owner")
    ADMIN = "admin", _("Admin")
    EDITOR = "editor", _("Editor")
    VIEWER = "viewer", _("Viewer")


# Shown on the users page, in the admin's language.
ROLE_HELP = {
    Role.OWNER: _("everything, including users and installation settings"),
    Role.ADMIN: _("everything but users and installation settings"),
    Role.EDITOR: _("audience and campaigns; cannot manage senders or users"),
    Role.VIEWER: _("reads everything, changes nothing, no exports of personal data"),
}


class Profile(models.Model):
    """A user's role and granted lists. Users from before roles existed have none: see
    roles.role_of."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="postroom_profile"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)
    # An editor or viewer granted these lists sees and mails only them (accounts.access);
    # none granted means every list.
    lists = models.ManyToManyField("audience.MailingList", blank=True, related_name="+")
    # The admin's language, chosen in Settings (a code from settings.LANGUAGES); empty: the
    # browser's.
    language = models.CharField(max_length=16, blank=True, default="")

    def __str__(self) -> str:
        return f"{self.user} ({self.role})"


class LoginFailure(models.Model):
    """One wrong password (or a log-in refused while locked), by name and address."""

    username = models.CharField(max_length=150, db_index=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["ip", "at"], name="login_failure_ip_at")]


class AuditEntry(models.Model):
    """Who did what, when, from where. The username is kept as text so the entry
    outlives the user."""

    at = models.DateTimeField(default=timezone.now, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    username = models.CharField(max_length=150, blank=True, default="")
    ip = models.GenericIPAddressField(null=True, blank=True)
    action = models.CharField(max_length=100, db_index=True)
    target = models.CharField(max_length=300, blank=True, default="")
    detail = models.CharField(max_length=1000, blank=True, default="")

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.username or '-'} {self.action} {self.target}"


class TwoFactor(models.Model):
    """A user's authenticator app (TOTP) and their one-time recovery codes.

    `confirmed_at` is empty until the person has typed a first code, so a
    half-finished enrolment never locks anyone out. Recovery codes are stored
    hashed, each removed once used; `last_step` refuses a code used twice.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="postroom_two_factor"
    )
    secret = models.CharField(max_length=64)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    last_step = models.BigIntegerField(default=0)
    recovery_hashes = models.JSONField(default=list)


class SsoIdentity(models.Model):
    """A person's account at the OpenID Connect provider (issuer + `sub`), linked to their
    Postroom user. The subject, not the email, is what stays the same at the provider."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="postroom_sso"
    )
    issuer = models.CharField(max_length=300)
    subject = models.CharField(max_length=255)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="sso_identity_unique")
        ]


class Passkey(models.Model):
    """A WebAuthn credential (a passkey) a person registered to sign in without a password.

    Only its public key is kept; `sign_count` is the authenticator's counter, which
    must grow when the authenticator keeps one (a copied key would show as a repeat)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="postroom_passkeys"
    )
    name = models.CharField(max_length=100)
    # base64url, as the browser names it; WebAuthn caps an ID at 1023 bytes.
    credential_id = models.CharField(max_length=1400, unique=True)
    public_key = models.BinaryField()
    sign_count = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.name} ({self.user})"
