"""An import and its report: what was read, how, what happened to every row."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Import(models.Model):
    """One file imported (or being imported) into the audience.

    The record is the job's durable state: every committed batch also moves
    `rows_done`, so after a crash the record says exactly how far the import got
    and the import resumes from there.
    """

    class Status(models.TextChoices):
        DRAFT = "draft"  # uploaded, waiting for the mapping to be confirmed
        QUEUED = "queued"
        RUNNING = "running"
        FINISHED = "finished"
        FAILED = "failed"

    class Mode(models.TextChoices):
        SUBSCRIBE = "subscribe", _("Add new, subscribe everyone to the lists")
        UPDATE = "update", _("Add new, update existing subscribers' details and lists")
        SKIP_EXISTING = "skip-existing", _("Add new only, leave existing subscribers untouched")
        BLOCKLIST = "blocklist", _("Blocklist every address")

    file_name = models.CharField(max_length=255)
    file_path = models.CharField(max_length=1024)
    file_size = models.BigIntegerField(default=0)
    # The Layout in force (encoding, delimiter, columns, mapping) and what was detected.
    layout = models.JSONField(default=dict, blank=True)
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.SUBSCRIBE)
    lists = models.ManyToManyField("audience.MailingList", blank=True, related_name="imports")
    confirmed = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)

    rows = models.IntegerField(default=0)
    created = models.IntegerField(default=0)
    updated = models.IntegerField(default=0)
    unchanged = models.IntegerField(default=0)
    duplicates = models.IntegerField(default=0)
    rejected = models.IntegerField(default=0)
    repaired = models.IntegerField(default=0)  # accepted after a reported repair
    suppressed = models.IntegerField(default=0)  # part of `rejected`
    # People per state given to them (subscribed, pending, unsubscribed, bounced, …).
    states = models.JSONField(default=dict, blank=True)
    resubscribed = models.IntegerField(default=0)  # by the override below

    # The explicit override: people who had unsubscribed are subscribed again. Who
    # ticked it and when is kept with the import, and logged.
    resubscribe = models.BooleanField(default=False)
    resubscribe_by = models.CharField(max_length=150, blank=True, default="")
    resubscribe_at = models.DateTimeField(null=True, blank=True)

    rows_done = models.IntegerField(default=0)  # records committed: the resume point
    bytes_done = models.BigIntegerField(default=0)
    resumed = models.IntegerField(default=0)
    error = models.TextField(blank=True, default="")

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"import {self.id} of {self.file_name}"

    COUNT_FIELDS = ("rows", "created", "updated", "unchanged", "duplicates", "rejected")

    def summary(self) -> dict:
        """The totals, with the keys the command-line contract fixes first."""
        data = {key: getattr(self, key) for key in self.COUNT_FIELDS}
        data.update(
            id=self.id,
            status=self.status,
            repaired=self.repaired,
            suppressed=self.suppressed,
            states=self.states,
            resubscribed=self.resubscribed,
            error=self.error,
        )
        return data

    @property
    def progress(self) -> int:
        """Per cent of the file's bytes read, for the progress bar."""
        if self.status == self.Status.FINISHED:
            return 100
        if not self.file_size:
            return 0
        return min(99, int(self.bytes_done * 100 / self.file_size))

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)


class RejectedRow(models.Model):
    """A row that was not imported, with its line in the original file and why."""

    import_run = models.ForeignKey(Import, on_delete=models.CASCADE, related_name="rejected_rows")
    line = models.IntegerField()
    raw = models.TextField(blank=True, default="")
    reason = models.TextField()
    # The row as read, so the rejects CSV can be fixed and imported again.
    cells = models.JSONField(default=list, blank=True)
    part = models.PositiveSmallIntegerField(default=0)  # which file of an archive

    class Meta:
        ordering = ["part", "line", "id"]


class DuplicateRow(models.Model):
    """A row whose address an earlier row of the same file had: imported once, listed here."""

    import_run = models.ForeignKey(Import, on_delete=models.CASCADE, related_name="duplicate_rows")
    line = models.IntegerField()
    part = models.PositiveSmallIntegerField(default=0)
    first_line = models.IntegerField()  # the row that had the address first
    first_part = models.PositiveSmallIntegerField(default=0)
    raw = models.TextField(blank=True, default="")
    cells = models.JSONField(default=list, blank=True)
    applied = models.BooleanField(default=False)  # its row said the person left: applied too

    class Meta:
        ordering = ["part", "line", "id"]


class RepairedRow(models.Model):
    """A row imported after an unambiguous repair of its address, kept so it is reported."""

    import_run = models.ForeignKey(Import, on_delete=models.CASCADE, related_name="repaired_rows")
    line = models.IntegerField()
    raw = models.TextField(blank=True, default="")
    note = models.TextField()

    class Meta:
        ordering = ["line", "id"]
