"""Alerts: things an admin must hear about, kept until someone acknowledges them."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class Alert(models.Model):
    """One condition or event, recorded once while it is open.

    `key` names the condition (`campaign_paused:12`, `sender_waiting:3`); while an
    alert with that key is open (`cleared_at` empty) the same condition only
    counts a repeat on it, so nobody gets the same email twice. Events clear
    when acknowledged; a condition (a sender waiting) clears when it ends, so
    acknowledging it does not make it alert again while it lasts.
    """

    class Kind(models.TextChoices):
        CAMPAIGN_PAUSED = "campaign_paused", "campaign paused itself"
        CAMPAIGN_FINISHED = "campaign_finished", "campaign finished"
        SENDER_WAITING = "sender_waiting", "sender waiting"
        WORKER_DIED = "worker_died", "worker died"
        PROCESS_RESTARTED = "process_restarted", "process restarted"

    # Kinds that last until the code sees them end, rather than until acknowledged.
    CONDITIONS = (Kind.SENDER_WAITING,)
    LEVELS: dict[str, str] = {
        Kind.CAMPAIGN_PAUSED: "error",
        Kind.SENDER_WAITING: "warning",
        Kind.WORKER_DIED: "warning",
        Kind.PROCESS_RESTARTED: "warning",
        Kind.CAMPAIGN_FINISHED: "success",
    }

    kind = models.CharField(max_length=32, choices=Kind.choices)
    key = models.CharField(max_length=200)
    title = models.CharField(max_length=300)
    message = models.CharField(max_length=2000, blank=True, default="")
    campaign = models.ForeignKey(
        "campaigns.Campaign", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sender = models.ForeignKey(
        "delivery.Sender", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_at = models.DateTimeField(default=timezone.now)
    repeats = models.PositiveIntegerField(default=1)
    cleared_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True, db_index=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # What happened to the email: how many admins got it, through what, or why not.
    emailed = models.PositiveIntegerField(default=0)
    email_via = models.CharField(max_length=120, blank=True, default="")
    email_error = models.CharField(max_length=1000, blank=True, default="")

    class Meta:
        ordering = ["-last_at", "-id"]
        constraints = [
            # Two workers noticing the same condition at once: the second insert fails
            # and becomes a repeat, on SQLite and PostgreSQL alike.
            models.UniqueConstraint(
                fields=["key"],
                condition=models.Q(cleared_at__isnull=True),
                name="alert_one_open_per_key",
            )
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def level(self) -> str:
        return self.LEVELS.get(self.kind, "info")

    @property
    def is_condition(self) -> bool:
        return self.kind in self.CONDITIONS


class NotificationSettings(models.Model):
    """Installation-wide alert settings, one row, changed on the Settings page.

    In the database rather than the environment: an operator switches the
    notification sender while campaigns run, without a restart.
    """

    # Through which sender alert emails go; empty means the local outbox.
    sender = models.ForeignKey(
        "delivery.Sender", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    @classmethod
    def load(cls) -> "NotificationSettings":
        found, _ = cls.objects.select_related("sender").get_or_create(pk=1)
        return found
