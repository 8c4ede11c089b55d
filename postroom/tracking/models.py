"""What subscribers did through their signed links, kept per campaign."""

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


class TrackedLink(models.Model):
    """One address a campaign's HTML links to, stored once under a number.

    Click tokens carry the number, so the redirect can only ever lead to an
    address the campaign itself contains (tracking.engagement).
    """

    campaign = models.ForeignKey(
        "campaigns.Campaign", on_delete=models.CASCADE, related_name="tracked_links"
    )
    number = models.PositiveIntegerField()
    url = models.CharField(max_length=2000)

    class Meta:
        ordering = ["campaign", "number"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "number"], name="tracked_link_number"),
            models.UniqueConstraint(fields=["campaign", "url"], name="tracked_link_url"),
        ]

    def __str__(self) -> str:
        return self.url


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
        TrackedLink, null=True, blank=True, on_delete=models.CASCADE, related_name="events"
    )
    at = models.DateTimeField(default=timezone.now)
    ip = models.GenericIPAddressField(null=True, blank=True)

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

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} bounce: {self.email}"
