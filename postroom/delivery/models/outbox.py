"""The local capture outbox: where mail goes when no SMTP sender is set up."""

from django.db import models
from django.utils import timezone


class OutboxMessage(models.Model):
    campaign = models.ForeignKey(
        "campaigns.Campaign",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    mail_from = models.CharField(max_length=320)
    rcpt_to = models.CharField(max_length=320, db_index=True)
    subject = models.CharField(max_length=998, blank=True, default="")
    message_id = models.CharField(max_length=255, blank=True, default="")
    data = models.BinaryField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.rcpt_to}: {self.subject}"
