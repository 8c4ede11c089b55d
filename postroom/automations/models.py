"""Sequences: an automation, its steps, and each person's place in it.

Every send step is served by a hidden campaign (kind "automation", one per step
and cycle, `StepCampaign`) whose ledger rows are sent by the ordinary engine:
the same claim, hand-over and recovery, the same rate limits and fair share.
"""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from postroom.campaigns.windows import EVERY_DAY, ZONE_LENGTH


class Automation(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft"
        ACTIVE = "active"
        PAUSED = "paused"

    class Trigger(models.TextChoices):
        JOINED = "joined", _("joined a list")
        CONFIRMED = "confirmed", _("confirmed a list")
        SEGMENT = "segment", _("entered a segment")
        DATE = "date", _("a yearly date")
        API = "api", _("enrolled by the API")

    name = models.CharField(max_length=200, unique=True)
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    mailing_list = models.ForeignKey(
        "audience.MailingList", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    segment = models.ForeignKey(
        "audience.Segment", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Date triggers: the attribute holding YYYY-MM-DD (or MM-DD), and the local hour the
    # step starts on that day, in the subscriber's `timezone` attribute.
    attribute = models.CharField(max_length=100, blank=True, default="")
    local_hour = models.PositiveSmallIntegerField(default=9)
    sender = models.ForeignKey(
        "delivery.Sender", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    from_email = models.CharField(max_length=320)
    from_name = models.CharField(max_length=200, blank=True, default="")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    # Members at activation enter too (else only who triggers after it).
    enrol_existing = models.BooleanField(default=False)
    activated_at = models.DateTimeField(null=True, blank=True)
    # Date triggers: the last moment a scan covered (the next one starts there, at most
    # engine.CATCH_UP back), and the last stretch skipped as too late to catch up
    # ({"after", "until", "people"}; empty when none).
    scanned_until = models.DateTimeField(null=True, blank=True)
    skipped = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def trigger_text(self) -> str:
        target = {
            self.Trigger.JOINED: self.mailing_list,
            self.Trigger.CONFIRMED: self.mailing_list,
            self.Trigger.SEGMENT: self.segment,
            self.Trigger.DATE: self.attribute,
        }.get(self.Trigger(self.trigger))
        return f"{self.get_trigger_display()}: {target}" if target else self.get_trigger_display()


class Step(models.Model):
    class Kind(models.TextChoices):
        WAIT = "wait", _("Wait")
        SEND = "send", _("send an email")
        BRANCH = "branch", _("Branch")
        TAG = "tag", _("Tag")
        UNTAG = "untag", _("Untag")
        ADD_LIST = "add_list", _("add to a list")
        REMOVE_LIST = "remove_list", _("remove from a list")
        WEBHOOK = "webhook", _("call a webhook")

    automation = models.ForeignKey(Automation, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField()  # 1, 2, 3 … in the order people take them
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # Before the step runs: this long, then (when set) until the next of these local
    # weekdays ("0,1,2,3,4" = Monday to Friday) at this local time.
    wait_seconds = models.PositiveIntegerField(default=0)
    wait_weekdays = models.CharField(max_length=20, blank=True, default="")
    wait_time = models.TimeField(null=True, blank=True)
    subject = models.CharField(max_length=998, blank=True, default="")
    body = models.TextField(blank=True, default="")
    body_format = models.CharField(max_length=16, default="markdown")
    tag = models.CharField(max_length=100, blank=True, default="")
    mailing_list = models.ForeignKey(
        "audience.MailingList", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    endpoint = models.ForeignKey(
        "webhooks.Endpoint", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Branch: {"if": "opened"|"clicked", "step": N} | {"if": "attribute", "name", "value"}
    # | {"if": "segment", "segment": ID}; true jumps to `goto` (0: leave), false goes on.
    condition = models.JSONField(default=dict, blank=True)
    goto = models.PositiveIntegerField(null=True, blank=True)
    # Send steps: the hidden campaigns' send window (campaigns.windows), daily hours on
    # each reader's wall clock; copied to every cycle's campaign.
    window_start = models.TimeField(null=True, blank=True)
    window_end = models.TimeField(null=True, blank=True)
    window_days = models.PositiveSmallIntegerField(default=EVERY_DAY, db_default=EVERY_DAY)
    window_timezone = models.CharField(max_length=ZONE_LENGTH, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["automation", "position"]
        constraints = [
            models.UniqueConstraint(fields=["automation", "position"], name="step_position_once")
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.get_kind_display()}"


class StepCampaign(models.Model):
    """The hidden campaign that sends one step in one cycle (a year, for date triggers):
    the ledger's one row per subscriber and campaign then means once per person."""

    # Empty once the step is deleted: the campaign and its ledger stay (who was sent what).
    step = models.ForeignKey(
        Step, null=True, blank=True, on_delete=models.SET_NULL, related_name="campaigns"
    )
    cycle = models.PositiveIntegerField(default=0)
    campaign = models.OneToOneField(
        "campaigns.Campaign", on_delete=models.CASCADE, related_name="automation_step"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["step", "cycle"], name="step_campaign_per_cycle")
        ]


class Enrolment(models.Model):
    class State(models.TextChoices):
        ACTIVE = "active"
        COMPLETED = "completed"
        STOPPED = "stopped"
        # A member at activation, recorded so they never enter (without --enrol-existing).
        EXCLUDED = "excluded"

    automation = models.ForeignKey(Automation, on_delete=models.CASCADE, related_name="enrolments")
    subscriber = models.ForeignKey(
        "audience.Subscriber", on_delete=models.CASCADE, related_name="+"
    )
    # 0, or the year of a date trigger: one enrolment per person and cycle.
    cycle = models.PositiveIntegerField(default=0)
    position = models.PositiveIntegerField(default=1)  # the next step to take
    next_at = models.DateTimeField(null=True, blank=True)  # when it is due
    # The step's weekday/time wait was applied to next_at (it needs the person's zone).
    timed = models.BooleanField(default=False)
    state = models.CharField(max_length=16, choices=State.choices, default=State.ACTIVE)
    reason = models.CharField(max_length=300, blank=True, default="")
    entered_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["automation", "subscriber", "cycle"], name="enrolment_once_per_cycle"
            )
        ]
        indexes = [models.Index(fields=["state", "next_at"], name="enrolment_due_idx")]
