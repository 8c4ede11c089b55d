"""Campaigns and the layouts they are wrapped in."""

from django.conf import settings
from django.db import models
from django.db.models import Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from postroom.campaigns.windows import EVERY_DAY, ZONE_LENGTH, SendWindow


class Layout(models.Model):
    """An HTML frame with a `{{ content }}` placeholder, shared by campaigns."""

    DEFAULT_NAME = "Default"

    name = models.CharField(max_length=200, unique=True)
    html = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Campaign(models.Model):
    class Status(models.TextChoices):
        # The labels are the admin's words for each status (badges, filters), translated.
        DRAFT = "draft", _("Draft")
        SCHEDULED = "scheduled", _("Scheduled")
        RUNNING = "running", _("Running")
        PAUSED = "paused", _("Paused")
        CANCELLED = "cancelled", _("Cancelled")
        FINISHED = "finished", _("Finished")

    class Format(models.TextChoices):
        MARKDOWN = "markdown", _("Markdown")
        HTML = "html", _("Html")
        PLAIN = "plain", _("Plain")

    class Kind(models.TextChoices):
        NEWSLETTER = "newsletter"
        # A standing stream per sender whose ledger rows each carry their own message
        # (postroom.transactional): never listed with campaigns, never finished.
        TRANSACTIONAL = "transactional"
        # One hidden campaign per send step of a sequence and cycle (postroom.automations):
        # its rows are added as people reach the step, so it stands open like a stream.
        AUTOMATION = "automation"

    class InDoubtPolicy(models.TextChoices):
        HOLD = "hold", _("leave them for me to decide")
        RESEND = "resend", _("send them again")

    EDITABLE = (Status.DRAFT, Status.SCHEDULED)

    name = models.CharField(max_length=200)
    kind = models.CharField(
        max_length=16, choices=Kind.choices, default=Kind.NEWSLETTER, db_default=Kind.NEWSLETTER
    )
    subject = models.CharField(max_length=998)
    preheader = models.CharField(max_length=255, blank=True, default="")
    from_name = models.CharField(max_length=200, blank=True, default="")
    from_email = models.CharField(max_length=320)
    reply_to = models.CharField(max_length=320, blank=True, default="")
    body_format = models.CharField(max_length=16, choices=Format.choices, default=Format.MARKDOWN)
    body = models.TextField(blank=True, default="")
    text_body = models.TextField(blank=True, default="")
    layout = models.ForeignKey(Layout, null=True, blank=True, on_delete=models.SET_NULL)
    lists = models.ManyToManyField("audience.MailingList", blank=True, related_name="campaigns")
    segment = models.ForeignKey("audience.Segment", null=True, blank=True, on_delete=models.PROTECT)
    # None: the local capture outbox (the embedded default).
    sender = models.ForeignKey("delivery.Sender", null=True, blank=True, on_delete=models.PROTECT)
    headers = models.JSONField(default=dict, blank=True)
    track_opens = models.BooleanField(default=False)
    track_clicks = models.BooleanField(default=False)
    # Shown, once finished, in the public archive of each of its public lists
    # (postroom.public.archive), rendered for nobody in particular.
    in_archive = models.BooleanField(default=False)
    priority = models.PositiveSmallIntegerField(default=1)
    in_doubt_policy = models.CharField(
        max_length=16, choices=InDoubtPolicy.choices, default=InDoubtPolicy.HOLD
    )
    # Pause itself when more than this share of its last N recipients with an outcome
    # failed for good (counted over the ledger, so across every worker): evidence that
    # the campaign itself, its list, is the problem. A sender that cannot be reached
    # never pauses it (delivery.waiting).
    error_threshold_percent = models.PositiveSmallIntegerField(
        default=20, help_text="pause when more than this share of recent recipients fail for good"
    )
    error_window = models.PositiveIntegerField(
        default=200, help_text="how many recent recipients that share counts"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    status_reason = models.CharField(max_length=500, blank=True, default="")
    send_at = models.DateTimeField(null=True, blank=True)
    # The zone the operator scheduled in, so the time is shown back as they wrote it.
    send_at_timezone = models.CharField(max_length=64, blank=True, default="")
    # The send window, on each reader's wall clock (campaigns.windows): daily hours on
    # some weekdays, or one fixed local time; neither set: any time.
    window_start = models.TimeField(null=True, blank=True)
    window_end = models.TimeField(null=True, blank=True)
    window_days = models.PositiveSmallIntegerField(default=EVERY_DAY, db_default=EVERY_DAY)
    local_time = models.TimeField(null=True, blank=True)
    local_date = models.DateField(null=True, blank=True)
    # The zone of readers whose own is missing or not a zone; empty: the installation's.
    window_timezone = models.CharField(max_length=ZONE_LENGTH, blank=True, default="")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status"], name="campaign_status_idx")]
        constraints = [
            # One transactional stream per sender (the outbox counting as sender 0), even
            # when two first messages for a new sender arrive at once.
            models.UniqueConstraint(
                Coalesce("sender", Value(0)),
                condition=Q(kind="transactional"),
                name="campaign_one_transactional_stream_per_sender",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_editable(self) -> bool:
        return self.status in self.EDITABLE

    def send_window(self) -> SendWindow:
        return SendWindow(
            start=self.window_start,
            end=self.window_end,
            days=self.window_days,
            local_time=self.local_time,
            local_date=self.local_date,
            fallback=self.window_timezone or settings.TIME_ZONE,
        )


class TrackedLink(models.Model):
    """One address a campaign's HTML links to, stored once under a number.

    Click tokens carry the number, so the redirect can only ever lead to an
    address the campaign itself contains (mail.engagement). The numbers
    belong to the campaign's content, so compiling a campaign assigns them
    (campaigns.links) without reaching up into tracking.
    """

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="tracked_links")
    number = models.PositiveIntegerField()
    url = models.CharField(max_length=2000)

    class Meta:
        db_table = "tracking_trackedlink"  # where it was created, before it moved here
        ordering = ["campaign", "number"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "number"], name="tracked_link_number"),
            models.UniqueConstraint(fields=["campaign", "url"], name="tracked_link_url"),
        ]

    def __str__(self) -> str:
        return self.url


class CampaignSender(models.Model):
    """A sender in a campaign's pool, with its weight (campaigns.pools).

    A campaign with one sender has no rows here: `Campaign.sender` alone, as
    before pools. With several, every member has a row, the primary
    (`Campaign.sender`, shown first and used for test sends) included. It lives
    in the campaigns app because the campaign editor, the API and duplicating
    own it, and the delivery app already reads campaigns (never the reverse).
    """

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="pool")
    sender = models.ForeignKey("delivery.Sender", on_delete=models.PROTECT, related_name="+")
    # The share of the campaign's mail through this sender while every member can
    # take its share: 2 and 1 send two thirds and one third.
    weight = models.PositiveSmallIntegerField(default=1)

    class Meta:
        ordering = ["-weight", "id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "sender"], name="pool_sender_once"),
            models.CheckConstraint(condition=models.Q(weight__gt=0), name="pool_weight_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.sender_id}:{self.weight}"
