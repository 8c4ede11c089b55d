"""What subscribers did through their signed links, kept per campaign."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class UnsubscribeEvent(models.Model):
    """One unsubscribe through a link, so a campaign can show what it cost.

    The subscription itself records time and source (audience.services); this
    row adds which campaign the link came from. Erasing a subscriber keeps the
    count but not the person.
    """

    class Method(models.TextChoices):
        ONE_CLICK = "one-click", "one-click (RFC 8058)"
        LINK = "link", "unsubscribe page"
        PREFERENCES = "preferences", "preferences page"

    subscriber = models.ForeignKey(
        "audience.Subscriber", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    campaign = models.ForeignKey(
        "campaigns.Campaign",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="unsubscribe_events",
    )
    method = models.CharField(max_length=16, choices=Method.choices)
    # Names of the lists left, or empty for "everything".
    lists = models.CharField(max_length=500, blank=True, default="")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at"]


class EngagementEvent(models.Model):
    """One open (the pixel loaded) or click (a tracked link followed).

    No IP address unless POSTROOM_TRACK_IP is on: privacy by default. Erasing
    a subscriber keeps the event (the campaign's totals) but not the person.
    """

    class Kind(models.TextChoices):
        OPEN = "open"
        CLICK = "click"

    campaign = models.ForeignKey(
        "campaigns.Campaign", on_delete=models.CASCADE, related_name="engagement_events"
    )
    subscriber = models.ForeignKey(
        "audience.Subscriber", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    link = models.ForeignKey(
        "campaigns.TrackedLink",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="events",
    )
    at = models.DateTimeField(default=timezone.now)
    ip = models.GenericIPAddressField(null=True, blank=True)
    # Empty for a person; else why a machine made it (tracking.machines): apple-mpp,
    # proxy, scanner, too-soon, burst. Counted apart, and never in segments.
    machine = models.CharField(max_length=16, blank=True, default="")

    class Meta:
        indexes = [
            # Per-campaign counts, and segments ("opened campaign 12").
            models.Index(fields=["campaign", "kind", "subscriber"], name="engagement_campaign_idx"),
            # Segments over any campaign ("clicked in the last 30 days").
            models.Index(fields=["kind", "at"], name="engagement_kind_at_idx"),
        ]


class Bounce(models.Model):
    """A bounce or complaint report about one address, parsed by tracking.bounces.

    The address and the server's words are personal data: erasing the
    subscriber erases these rows too (the suppression hash stays).
    """

    class Kind(models.TextChoices):
        HARD = "hard"
        SOFT = "soft"
        COMPLAINT = "complaint"

    email = models.CharField(max_length=320, db_index=True)
    subscriber = models.ForeignKey(
        "audience.Subscriber",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="bounces",
    )
    campaign = models.ForeignKey(
        "campaigns.Campaign",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="bounces",
    )
    delivery = models.ForeignKey(
        "delivery.Delivery", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=16, blank=True, default="")  # RFC 3464, e.g. 5.1.1
    reason = models.CharField(max_length=1000, blank=True, default="")
    source = models.CharField(max_length=64, blank=True, default="")
    # Same report ingested twice (a mailbox read again) is recorded once.
    fingerprint = models.CharField(max_length=64, unique=True)
    at = models.DateTimeField(default=timezone.now)
    # The report as it came (a DSN, an ARF message, a provider's JSON event), cut at
    # RAW_LIMIT characters: what an operator reads before lifting a suppression.
    raw = models.TextField(blank=True, default="")
    # "Un-suppress": who lifted the address's suppression, when and why (the Bounces page).
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    lift_reason = models.CharField(max_length=500, blank=True, default="")

    RAW_LIMIT = 100_000

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} bounce: {self.email}"


class BounceMailbox(models.Model):
    """A mailbox that bounces and complaints arrive in, polled by the worker (tracking.mailboxes).

    One for all senders, or one per sender (its Return-Path's mailbox). The password
    is stored for the poller alone: no page, API or command ever shows it back.
    """

    class Protocol(models.TextChoices):
        IMAP = "imap", "IMAP"
        POP3 = "pop3", "POP3"

    class Tls(models.TextChoices):
        NONE = "none"
        STARTTLS = "starttls"
        TLS = "tls"

    class Processed(models.TextChoices):
        MOVE = "move", "move to a folder (IMAP)"
        DELETE = "delete", "delete"

    name = models.CharField(max_length=100, unique=True)
    protocol = models.CharField(max_length=8, choices=Protocol.choices, default=Protocol.IMAP)
    host = models.CharField(max_length=255)
    port = models.PositiveIntegerField(default=993)
    tls = models.CharField(max_length=16, choices=Tls.choices, default=Tls.TLS)
    verify_certificate = models.BooleanField(default=True)
    username = models.CharField(max_length=255)
    password = models.CharField(max_length=500, blank=True, default="")
    folder = models.CharField(max_length=255, default="INBOX")  # IMAP only
    processed = models.CharField(max_length=8, choices=Processed.choices, default=Processed.MOVE)
    move_to = models.CharField(max_length=255, default="Processed")
    sender = models.ForeignKey(
        "delivery.Sender",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="bounce_mailboxes",
        help_text="empty: one mailbox for every sender",
    )
    interval_seconds = models.PositiveIntegerField(default=300)
    enabled = models.BooleanField(default=True)

    # State, shared by every worker through the database.
    next_poll_at = models.DateTimeField(default=timezone.now)
    polling_until = models.DateTimeField(null=True, blank=True)  # a worker's claim
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=1000, blank=True, default="")
    last_error_at = models.DateTimeField(null=True, blank=True)
    last_messages = models.PositiveIntegerField(default=0)
    total_messages = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def failing(self) -> bool:
        """The last poll failed (an error newer than the last success)."""
        return self.last_error_at is not None and (
            self.last_success_at is None or self.last_error_at > self.last_success_at
        )


class SignupRequest(models.Model):
    """A sign-up as a form or the public API received it, waiting for a worker.

    The request that carried it only stores this row, whatever the address
    (new, known, unsubscribed, blocklisted), so its answer and its time say
    nothing about who is subscribed; the worker does the rest
    (tracking.signups.process_pending) and deletes the row.
    """

    email = models.CharField(max_length=320)
    name = models.CharField(max_length=255, blank=True, default="")
    list_ids = models.JSONField(default=list)
    attributes = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    # Asked through a signed link in an email ("subscribe again"), not a form: the
    # person was on these lists, so they need not be public (tracking.actions.resubscribe).
    from_link = models.BooleanField(default=False)
    # The language of the page the person signed up on, for the confirmation email when
    # neither they nor the list have one (audience.languages); empty: the installation's.
    language = models.CharField(max_length=16, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    # Epoch seconds before which no worker takes it: a worker holds a row by moving this.
    not_before = models.FloatField(default=0, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)


class SignupCount(models.Model):
    """Sign-up posts per client network per hour, in the database so every web process
    counts into the same number (tracking.forms.over_limit)."""

    network = models.CharField(max_length=64)
    hour = models.BigIntegerField()  # epoch seconds // 3600
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["network", "hour"], name="one_signup_count_per_hour")
        ]


class UsedChallenge(models.Model):
    """A solved captcha challenge, kept until it expires so it cannot be used twice."""

    challenge = models.CharField(max_length=128, unique=True)
    expires_at = models.FloatField(db_index=True)  # epoch seconds
