"""A/B tests: variants that are ordinary campaigns, each to its own part of the audience.

Each variant is a campaign; the test group is drawn once, when the test starts,
and every person in it is written down with the one variant they get (unique per
test), so the variants' ledgers are disjoint. The rest of the audience gets a copy
of the winner, a campaign whose ledger leaves out everyone in a variant's ledger.
"""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ABTest(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        TESTING = "testing", _("Testing")
        DECIDED = "decided", _("Decided")

    class Metric(models.TextChoices):
        OPENS = "opens", _("human opens")
        CLICKS = "clicks", _("clicks")
        MANUAL = "manual", _("by hand")

    # Variant A: the campaign that was made into a test.
    campaign = models.OneToOneField(
        "campaigns.Campaign", on_delete=models.CASCADE, related_name="abtest"
    )
    # The test group: a share of the audience, or (when set) a number of people.
    test_percent = models.PositiveSmallIntegerField(default=20)
    test_count = models.PositiveIntegerField(null=True, blank=True)
    metric = models.CharField(max_length=8, choices=Metric.choices, default=Metric.OPENS)
    window_minutes = models.PositiveIntegerField(default=240)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.DRAFT)
    started_at = models.DateTimeField(null=True, blank=True)
    decide_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by_hand = models.BooleanField(default=False)
    winner = models.ForeignKey(
        "abtests.Variant", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The winner's copy for everyone not in the test group.
    rest = models.OneToOneField(
        "campaigns.Campaign",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="abtest_rest",
    )
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"A/B test of {self.campaign_id}"


class Variant(models.Model):
    test = models.ForeignKey(ABTest, on_delete=models.CASCADE, related_name="variants")
    campaign = models.OneToOneField(
        "campaigns.Campaign", on_delete=models.CASCADE, related_name="abvariant"
    )
    label = models.CharField(max_length=1)
    # Its part of the test group, relative to the other variants' (1 and 1: half each).
    share = models.PositiveSmallIntegerField(default=1)
    # A send-time test: this variant is scheduled for then when the test starts (empty: at once).
    send_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["test", "label"]
        constraints = [
            models.UniqueConstraint(fields=["test", "label"], name="abtest_variant_label"),
            models.CheckConstraint(condition=models.Q(share__gt=0), name="abtest_share_positive"),
        ]

    def __str__(self) -> str:
        return self.label


class Member(models.Model):
    """One person of the test group and the one variant campaign they get."""

    test = models.ForeignKey(ABTest, on_delete=models.CASCADE, related_name="members")
    subscriber = models.ForeignKey(
        "audience.Subscriber", on_delete=models.CASCADE, related_name="+"
    )
    campaign = models.ForeignKey("campaigns.Campaign", on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["test", "subscriber"], name="abtest_member_once")
        ]
        indexes = [models.Index(fields=["campaign", "subscriber"], name="abtest_member_idx")]
