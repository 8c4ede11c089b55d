"""Senders: SMTP servers or provider accounts that campaigns go out through."""

from django.db import models
from django.utils import timezone


class Sender(models.Model):
    """An SMTP server or provider account, with its limits."""

    class Tls(models.TextChoices):
        NONE = "none"
        STARTTLS = "starttls"
        TLS = "tls"

    name = models.CharField(max_length=100, unique=True)
    host = models.CharField(max_length=255)
    port = models.PositiveIntegerField(default=587)
    tls = models.CharField(max_length=16, choices=Tls.choices, default=Tls.STARTTLS)
    verify_certificate = models.BooleanField(default=True)
    username = models.CharField(max_length=255, blank=True, default="")
    # The name of an environment variable holding the password, never the password.
    password_env = models.CharField(max_length=100, blank=True, default="")
    max_connections = models.PositiveSmallIntegerField(default=4)
    envelope_from = models.CharField(max_length=320, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
