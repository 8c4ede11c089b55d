"""Rate limits and the shared state that enforces them and shares capacity fairly.

Everything the limiter and the scheduler know lives here, in the database, so
every worker process on every machine sees the same windows and a restart never
refills one. See docs/rate-limits.md for the design.
"""

from django.db import models

from postroom.delivery.models.senders import Sender
from postroom.delivery.rates import format_rate


class RateLimit(models.Model):
    """One window of a sender's limit: at most `count` messages in any `seconds`."""

    sender = models.ForeignKey(Sender, on_delete=models.CASCADE, related_name="rate_limits")
    count = models.PositiveIntegerField()
    seconds = models.PositiveIntegerField()

    class Meta:
        ordering = ["sender", "seconds"]
        constraints = [
            models.UniqueConstraint(fields=["sender", "seconds"], name="ratelimit_one_per_window"),
            models.CheckConstraint(
                condition=models.Q(count__gt=0), name="ratelimit_count_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(seconds__gt=0), name="ratelimit_seconds_positive"
            ),
        ]

    def __str__(self) -> str:
        return format_rate(self.count, self.seconds)


class SendSlot(models.Model):
    """A moment reserved for one message through a limited sender.

    The log of slots is the sliding window: a new slot is only placed where no
    window would hold more than its count. Slots older than the largest window
    are pruned; unsent ones are deleted when a worker gives them back.
    """

    sender = models.ForeignKey(Sender, on_delete=models.CASCADE, related_name="+")
    at = models.FloatField(help_text="epoch seconds")
    # None: a message outside campaigns (test send, confirmation).
    campaign_id = models.BigIntegerField(null=True, blank=True)
    token = models.CharField(max_length=64)

    class Meta:
        indexes = [
            models.Index(fields=["sender", "at"], name="sendslot_sender_at_idx"),
            models.Index(fields=["token"], name="sendslot_token_idx"),
        ]


class SchedulerState(models.Model):
    """A shared row per key, locked to serialise decisions that must not race.

    Keys: `sender:<id>` (its slot log and fair-share clock), `outbox` (campaigns
    without a sender) and `generation` (bumped to wake sleeping workers).
    """

    key = models.CharField(max_length=64, unique=True)
    # The fair-share clock of the campaigns on this sender (stride scheduling).
    vtime = models.FloatField(default=0.0)
    generation = models.BigIntegerField(default=0)


class CampaignShare(models.Model):
    """A campaign's place in the fair-share order of one sender it sends through.

    One row per campaign and queue (`sender:<id>`, or `outbox`), so a campaign
    with a pool of senders competes fairly on each of them, and the pool
    splits its own mail among them by weight (`pool_pass`).
    """

    campaign = models.ForeignKey(
        "campaigns.Campaign", on_delete=models.CASCADE, related_name="shares"
    )
    queue = models.CharField(max_length=64)  # SchedulerState.key of the sender
    # Stride scheduling's "pass" among the campaigns on this sender: advances by
    # granted / priority; the lowest goes next.
    pass_value = models.FloatField(default=0.0)
    # The same among the senders of the campaign's pool: advances by granted /
    # the sender's weight in the pool; the lowest sender that can take mail goes next.
    pool_pass = models.FloatField(default=0.0)
    granted = models.BigIntegerField(default=0)
    last_granted_at = models.FloatField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "queue"], name="share_per_queue")
        ]
