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


class QueuedMessage(models.Model):
    """A message outside campaigns (a test send) that waits for its sender's rate-limit slot.

    The slot is taken when it is queued (`SendSlot` rows under `token`), so the
    time promised to the user holds and campaigns cannot take it; a worker
    sends it when `not_before` comes. Kept in the database so a restart loses
    nothing.
    """

    class State(models.TextChoices):
        QUEUED = "queued"
        SENT = "sent"
        FAILED = "failed"

    sender = models.ForeignKey(
        "delivery.Sender", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    campaign = models.ForeignKey(
        "campaigns.Campaign", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    mail_from = models.CharField(max_length=320)
    rcpt_to = models.CharField(max_length=320)
    message_id = models.CharField(max_length=255, blank=True, default="")
    data = models.BinaryField()
    not_before = models.FloatField(db_index=True)  # epoch seconds: the reserved slot
    token = models.CharField(max_length=64, blank=True, default="")  # its SendSlot rows
    state = models.CharField(max_length=8, choices=State.choices, default=State.QUEUED)
    reply = models.TextField(blank=True, default="")
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["state", "not_before"], name="queued_due")]

    def __str__(self) -> str:
        return f"{self.rcpt_to} ({self.state})"
