"""The audience: subscribers, lists, subscriptions with consent, tags, segments, suppression."""

from django.db import models
from django.utils import timezone


class Subscriber(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active"
        BLOCKLISTED = "blocklisted"

    # Always the output of audience.emails.normalize_email: one row per mailbox.
    email = models.CharField(max_length=320, unique=True)
    # sha256 of `email`, so sending can exclude the suppression list with a join.
    email_hash = models.CharField(max_length=64, db_index=True)
    name = models.CharField(max_length=255, blank=True, default="")
    attributes = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    tags = models.ManyToManyField("Tag", blank=True, related_name="subscribers")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["name"], name="subscriber_name_idx")]

    def __str__(self) -> str:
        return self.email


class MailingList(models.Model):
    class Visibility(models.TextChoices):
        PUBLIC = "public"
        PRIVATE = "private"

    class Optin(models.TextChoices):
        SINGLE = "single"
        DOUBLE = "double"

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True, default="")
    visibility = models.CharField(
        max_length=16, choices=Visibility.choices, default=Visibility.PRIVATE
    )
    optin = models.CharField(max_length=16, choices=Optin.choices, default=Optin.SINGLE)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Subscription(models.Model):
    """A subscriber on a list, with the record of how consent was given."""

    class Status(models.TextChoices):
        UNCONFIRMED = "unconfirmed"
        CONFIRMED = "confirmed"
        UNSUBSCRIBED = "unsubscribed"

    class Source(models.TextChoices):
        IMPORT = "import"
        FORM = "form"
        API = "api"
        ADMIN = "admin"

    subscriber = models.ForeignKey(
        Subscriber, on_delete=models.CASCADE, related_name="subscriptions"
    )
    mailing_list = models.ForeignKey(
        MailingList, on_delete=models.CASCADE, related_name="subscriptions"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.UNCONFIRMED)
    consent_source = models.CharField(max_length=16, choices=Source.choices)
    consent_at = models.DateTimeField(default=timezone.now)
    consent_ip = models.GenericIPAddressField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    unsubscribe_source = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["subscriber", "mailing_list"], name="one_subscription_per_list"
            )
        ]
        indexes = [
            models.Index(fields=["mailing_list", "status"], name="subscription_list_status_idx")
        ]


class Tag(models.Model):
    name = models.CharField(max_length=100, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Suppression(models.Model):
    """An address that must never be mailed again, kept as a hash so erasure is real."""

    class Reason(models.TextChoices):
        UNSUBSCRIBED = "unsubscribed"
        BOUNCED = "bounced"
        COMPLAINED = "complained"
        BLOCKLISTED = "blocklisted"
        MANUAL = "manual"

    email_hash = models.CharField(max_length=64, unique=True)
    reason = models.CharField(max_length=16, choices=Reason.choices)
    source = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)


class Segment(models.Model):
    """A saved filter; `definition` is validated and compiled by audience.segments."""

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True, default="")
    definition = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
