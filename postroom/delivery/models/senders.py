"""Senders: SMTP servers or provider accounts that campaigns go out through."""

from django.db import models
from django.utils import timezone


class Sender(models.Model):
    """An SMTP server or provider account, with its limits and its current health."""

    class Tls(models.TextChoices):
        NONE = "none"
        STARTTLS = "starttls"
        TLS = "tls"

    name = models.CharField(max_length=100, unique=True)
    # Which transport module sends for it (delivery.transports.TRANSPORTS).
    kind = models.CharField(max_length=16, default="smtp")
    host = models.CharField(max_length=255)
    port = models.PositiveIntegerField(default=587)
    tls = models.CharField(max_length=16, choices=Tls.choices, default=Tls.STARTTLS)
    verify_certificate = models.BooleanField(default=True)
    username = models.CharField(max_length=255, blank=True, default="")
    # The password: either entered in the UI or CLI and kept sealed (postroom.credentials),
    # or the name of an environment variable holding it (an operator's choice).
    password_sealed = models.TextField(blank=True, default="")
    password_env = models.CharField(max_length=100, blank=True, default="")
    max_connections = models.PositiveSmallIntegerField(default=4)
    envelope_from = models.CharField(max_length=320, blank=True, default="")
    # VERP: MAIL FROM local+b<campaign>-<subscriber>-<signature>@domain per recipient, so a
    # bounce names whom it is about even when the report inside is mangled (tracking.bounces).
    verp = models.BooleanField(default=False)
    # DKIM (optional; delivery.dkim): the signing domain (d=), the selector (s=) and the
    # path of a PEM private key file on the worker machines, so the key itself never
    # enters the database or a page. All three or none.
    dkim_domain = models.CharField(max_length=253, blank=True, default="")
    dkim_selector = models.CharField(max_length=63, blank=True, default="")
    dkim_key_file = models.CharField(max_length=1024, blank=True, default="")

    # Health, shared by every worker through the database (delivery.waiting): while the
    # server cannot be reached its campaigns wait; failing_since is "waiting since".
    failing_since = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    backoff_until = models.DateTimeField(null=True, blank=True)  # the next try
    probing_until = models.DateTimeField(null=True, blank=True)  # one worker is trying it
    last_error = models.CharField(max_length=1000, blank=True, default="")
    # Recipients refused for policy or reputation (5.7.x) at send time: the sender's
    # problem, not the addresses' (delivery.rejections).
    policy_rejections = models.PositiveIntegerField(default=0)
    last_policy_rejection = models.CharField(max_length=1000, blank=True, default="")
    last_policy_rejection_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_backing_off(self) -> bool:
        return self.backoff_until is not None and self.backoff_until > timezone.now()

    @property
    def is_waiting(self) -> bool:
        """It cannot be reached: its campaigns wait for it."""
        return self.failing_since is not None
