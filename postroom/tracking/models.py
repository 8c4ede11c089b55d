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
