"""The audience: subscribers, lists, subscriptions with consent, tags, segments, suppression."""

import uuid
from typing import Any

from django.db import models
from django.utils import timezone

from postroom.audience.emails import email_hash


class Subscriber(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active"
        BLOCKLISTED = "blocklisted"

    # Always the output of audience.emails.normalize_email: one row per mailbox.
    email = models.CharField(max_length=320, unique=True)
    # sha256 of `email`, so sending can exclude the suppression list with a join.
    # save() keeps it in sync; bulk writers build rows with Subscriber.build().
    # No index: it is derived from `email`, whose index keeps it unique, and it is
    # only ever joined to Suppression's index, never searched here. Its random keys
    # cost an import of 1,000,000 rows on SQLite 37 s of CPU instead of 14 (docs/imports.md).
    email_hash = models.CharField(max_length=64)
    name = models.CharField(max_length=255, blank=True, default="")
    attributes = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    tags: "models.ManyToManyField[Tag, Any]" = models.ManyToManyField(
        "Tag", blank=True, related_name="subscribers"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        # (sort key, id) pairs let the subscribers table page by keyset at any depth.
        indexes = [
            models.Index(fields=["name", "id"], name="subscriber_name_idx"),
            models.Index(fields=["created_at", "id"], name="subscriber_created_idx"),
        ]

    def __str__(self) -> str:
        return self.email

    def save(self, *args, **kwargs) -> None:
        self.email_hash = email_hash(self.email)
        if kwargs.get("update_fields") is not None and "email" in kwargs["update_fields"]:
            kwargs["update_fields"] = {*kwargs["update_fields"], "email_hash"}
        super().save(*args, **kwargs)

    @classmethod
    def build(cls, email: str, **fields) -> "Subscriber":
        """An unsaved row with its hash set, for bulk_create (which skips save())."""
        return cls(email=email, email_hash=email_hash(email), **fields)

    @property
    def is_blocklisted(self) -> bool:
        return self.status == self.Status.BLOCKLISTED


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
    # The list's public name for websites' sign-up forms: ids and names change, this never.
    uuid = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    # Websites whose pages may post sign-ups to this list from a browser (CORS),
    # each as scheme://host[:port], checked by audience.signup_settings.
    allowed_origins = models.JSONField(default=list, blank=True)
    # Sign-ups must carry a solved proof-of-work challenge (tracking.captcha).
    captcha = models.BooleanField(default=False)
    # Extra fields its forms ask for, stored as subscriber attributes:
    # [{"name", "label", "type", "required", "choices"}], see audience.signup_settings.
    form_fields = models.JSONField(default=list, blank=True)
    # The language of its public pages and confirmation emails (a code from
    # settings.LANGUAGES, checked by audience.languages); empty: each reader's own.
    language = models.CharField(max_length=16, blank=True, default="")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_public(self) -> bool:
        return self.visibility == self.Visibility.PUBLIC


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

    @property
    def is_mailable(self) -> bool:
        """The same rule as eligibility.mailable_subscribers, for one row in Python."""
        if self.status == self.Status.CONFIRMED:
            return True
        return (
            self.status == self.Status.UNCONFIRMED
            and self.mailing_list.optin == MailingList.Optin.SINGLE
        )


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
