"""The ledger: one row per campaign and recipient. It is the queue and the record.

A row's life: pending → sending (claimed, leased) → sent / retry / failed /
skipped / in_doubt. `handed_at` splits "sending" in two: NULL means claimed but
not yet given to SMTP (a dead worker's such rows go back to pending silently);
set means the message may be on the wire (a dead worker's such rows become
in_doubt, because the server may have accepted them).
"""

from django.db import models
from django.utils import timezone


class Delivery(models.Model):
    class State(models.TextChoices):
        PENDING = "pending"
        SENDING = "sending"
        SENT = "sent"
        RETRY = "retry", "retry later"
        FAILED = "failed"
        SKIPPED = "skipped"
        IN_DOUBT = "in_doubt", "in doubt"

    FINAL = (State.SENT, State.FAILED, State.SKIPPED, State.IN_DOUBT)

    # No database-level foreign keys on the ledger: PostgreSQL checks each one per inserted
    # row with a trigger, which tripled the time to build a million-row ledger. Django's
    # collector still applies CASCADE / SET_NULL when a campaign or subscriber is deleted.
    campaign = models.ForeignKey(
        "campaigns.Campaign",
        on_delete=models.CASCADE,
        related_name="deliveries",
        db_index=False,
        db_constraint=False,
    )
    # SET_NULL: erasing a subscriber keeps the fact that something was sent, not the person.
    subscriber = models.ForeignKey(
        "audience.Subscriber",
        null=True,
        on_delete=models.SET_NULL,
        related_name="deliveries",
        db_index=False,  # the unique (subscriber, campaign) index serves lookups by subscriber
        db_constraint=False,
    )
    # The address as it was when the campaign started (the subscriber may change it).
    email = models.CharField(max_length=320)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    # Times a worker process died while building this row's message (its journal
    # says so): from the second, each spends an attempt, so a row that kills the
    # process fails in the end instead of taking workers down for ever.
    crashes = models.PositiveSmallIntegerField(default=0, db_default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # The first temporary (4xx) failure: the retry age counts from here, not from the
    # campaign's start, so a long send or a sender outage never fails anyone unfairly.
    deferred_since = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=100, blank=True, default="")
    handed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    sender = models.ForeignKey(
        "delivery.Sender", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reply = models.TextField(blank=True, default="")
    message_id = models.CharField(max_length=255, blank=True, default="")
    error = models.CharField(max_length=1000, blank=True, default="")
    # The reader's time zone as it was at the start, only for a campaign with a send
    # window (campaigns.windows): the claim takes only rows of zones open now. Empty
    # for every other campaign, which keeps their ledger as cheap to build as before.
    zone = models.CharField(max_length=64, blank=True, default="", db_default="")
    # When the row last changed state; NULL while it has never left pending.
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # Subscriber addresses are unique, so this is also one row per address; an
            # integer index is much cheaper to build for a million rows than one on emails.
            models.UniqueConstraint(
                fields=["subscriber", "campaign"], name="delivery_one_per_subscriber"
            )
        ]
        indexes = [
            # The keyset claim and counts by state walk this index only.
            models.Index(fields=["campaign", "state", "id"], name="delivery_claim_idx"),
            # A windowed campaign claims zone by zone; only its rows have a zone, so
            # this index costs nothing to a campaign without a window.
            models.Index(
                fields=["campaign", "zone", "state", "id"],
                name="delivery_zone_claim_idx",
                condition=~models.Q(zone=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} ({self.state})"

    @property
    def is_final(self) -> bool:
        return self.state in self.FINAL


class CampaignEvent(models.Model):
    """The campaign's log: started, paused and why, sender errors, resumed, finished."""

    class Kind(models.TextChoices):
        STARTED = "started"
        PAUSED = "paused"
        AUTO_PAUSED = "auto_paused", "paused automatically"
        RESUMED = "resumed"
        CANCELLED = "cancelled"
        FINISHED = "finished"
        RETRIED = "retried", "failed recipients re-queued"
        SENDER_ERROR = "sender_error", "sender error"
        IN_DOUBT = "in_doubt", "recipients in doubt"
        RESOLVED = "resolved", "in doubt resolved"
        RECOVERED = "recovered", "recovered from a stopped worker"

    campaign = models.ForeignKey(
        "campaigns.Campaign", on_delete=models.CASCADE, related_name="events"
    )
    at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    message = models.CharField(max_length=1000, blank=True, default="")

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


class CampaignRun(models.Model):
    """Cheap running figures for one campaign, updated with every flush of results.

    Counting a million-row ledger for the rate on every status poll would be
    slow; these few numbers are updated in the same transaction as the rows.
    Times are epoch seconds so the rate arithmetic is portable SQL.
    """

    campaign = models.OneToOneField(
        "campaigns.Campaign", on_delete=models.CASCADE, primary_key=True, related_name="run"
    )
    sent_total = models.BigIntegerField(default=0)
    last_progress = models.FloatField(default=0.0)
    rate = models.FloatField(default=0.0)  # messages/s over the last completed window
    rate_since = models.FloatField(default=0.0)
    rate_base = models.BigIntegerField(default=0)
    # The distinct reader zones of a windowed campaign's ledger, found once at the start
    # (rows never change zone), so no claim or status poll scans the ledger for them.
    zones = models.JSONField(default=list, blank=True)
