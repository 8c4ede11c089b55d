"""What the library holds: each stored file, and which campaigns attach which file."""

import secrets

from django.conf import settings
from django.db import models


def new_key() -> str:
    """The unguessable part of a file's public URL (images in emails are fetched by anyone)."""
    return secrets.token_urlsafe(16)


class MediaFile(models.Model):
    class Kind(models.TextChoices):
        IMAGE = "image"  # checked and re-encoded by media.images; shown in emails by URL
        FILE = "file"  # checked by media.files; sent as an attachment

    kind = models.CharField(max_length=8, choices=Kind.choices)
    name = models.CharField(max_length=200)  # as uploaded, a plain file name
    key = models.CharField(max_length=32, unique=True, default=new_key)
    # Where the bytes are in the media storage (settings.STORAGES["media"]).
    stored_as = models.CharField(max_length=300)
    content_type = models.CharField(max_length=128)
    size = models.PositiveIntegerField()  # bytes, as stored
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    uploaded_at = models.DateTimeField(auto_now_add=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-uploaded_at", "-id"]

    def __str__(self) -> str:
        return self.name


class CampaignAttachment(models.Model):
    """A library file sent with every message of a campaign (mail.attachments)."""

    campaign = models.ForeignKey(
        "campaigns.Campaign", on_delete=models.CASCADE, related_name="attachments"
    )
    media = models.ForeignKey(MediaFile, on_delete=models.PROTECT, related_name="attached_to")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "media"], name="campaign_attachment_once")
        ]
