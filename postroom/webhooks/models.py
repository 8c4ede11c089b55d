"""Webhook endpoints and the deliveries owed to them: the table is the queue."""

from django.db import models
from django.utils import timezone


class Endpoint(models.Model):
    """A URL that receives the events it chose, each POST signed with its own secret."""

    name = models.CharField(max_length=100, unique=True)
    url = models.CharField(max_length=2000)
    events = models.JSONField(default=list)  # event types, see webhooks.events.EVENTS
    # Kept as given: it signs every POST. Shown once when made (or rotated), never again.
    secret = models.CharField(max_length=100)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class WebhookDelivery(models.Model):
    """One event owed to one endpoint: tried until it gets a 2xx, with back-off, or gives up."""

    class State(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"  # every attempt failed; kept in the log

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=64)
    # The event's id, the same for every endpoint: receivers drop a repeat with it.
    event_id = models.CharField(max_length=40)
    body = models.TextField()  # exactly the bytes that are signed and sent
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    # Epoch seconds: when it is due; a sender holds a row by moving this forward (a lease).
    next_attempt_at = models.FloatField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="webhook_due_idx"),
            models.Index(fields=["endpoint", "-id"], name="webhook_endpoint_log_idx"),
        ]
        constraints = [
            # A sequence's webhook step derives the event id from the person, step and
            # cycle: a pass run again after a crash queues nothing twice.
            models.UniqueConstraint(
                fields=["endpoint", "event_id"],
                condition=models.Q(event="automation.step"),
                name="webhook_step_once",
            )
        ]


class WebhookAttempt(models.Model):
    """One POST of a delivery, with what the endpoint answered (or why there was no answer)."""

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log"
    )
    at = models.DateTimeField(default=timezone.now)
    status = models.PositiveSmallIntegerField(null=True, blank=True)  # None: no HTTP answer
    error = models.CharField(max_length=500, blank=True, default="")
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-at", "-id"]
