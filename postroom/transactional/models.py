"""Transactional mail: stored templates, and one message per recipient riding the ledger.

A message's state is its ledger row's (`delivery`): the engine claims, sends,
retries, journals and recovers it like any campaign row, in its sender's
transactional stream (a standing hidden campaign, `Campaign.Kind.TRANSACTIONAL`).
What the row sends is here: subject and parts rendered when the request was
accepted, so a template edited later never changes a receipt already queued.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class TxTemplate(models.Model):
    """A stored message for shops and apps to fill in: its id is listmonk's `template_id`."""

    class Format(models.TextChoices):
        MARKDOWN = "markdown"
        HTML = "html"
        PLAIN = "plain"

    name = models.CharField(max_length=200, unique=True)
    subject = models.CharField(max_length=998)  # a template
    body = models.TextField()  # a template, in body_format
    body_format = models.CharField(max_length=16, choices=Format.choices, default=Format.MARKDOWN)
    # None: the body alone, without a layout.
    layout = models.ForeignKey(
        "campaigns.Layout", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    from_email = models.CharField(max_length=320, blank=True, default="")
    from_name = models.CharField(max_length=200, blank=True, default="")
    # The sender a message from this template goes through when the request names none.
    sender = models.ForeignKey(
        "delivery.Sender", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TxMessage(models.Model):
    """One transactional message to one recipient; its ledger row says where it is."""

    class Source(models.TextChoices):
        API = "api"
        LISTMONK = "listmonk", "API (listmonk shape)"
        CLI = "cli", "command line"

    delivery = models.OneToOneField(
        "delivery.Delivery", on_delete=models.CASCADE, related_name="tx", db_constraint=False
    )
    to_email = models.CharField(max_length=320)
    to_name = models.CharField(max_length=200, blank=True, default="")
    # The subscriber with this address when it was accepted, if any (for templates and links).
    subscriber = models.ForeignKey(
        "audience.Subscriber", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    from_email = models.CharField(max_length=320)
    from_name = models.CharField(max_length=200, blank=True, default="")
    subject = models.CharField(max_length=998)
    html = models.TextField(blank=True, default="")
    text = models.TextField(blank=True, default="")
    headers = models.JSONField(default=dict, blank=True)
    message_id = models.CharField(max_length=255)
    template = models.ForeignKey(
        TxTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    data = models.JSONField(default=dict, blank=True)
    # The same key (for the same recipient position) is accepted once: the unique
    # constraint decides, so two requests racing with one key cannot both send.
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)
    key_position = models.PositiveSmallIntegerField(default=0)
    # A digest of the request, to tell a replay (same answer) from a reuse (409).
    fingerprint = models.CharField(max_length=64, blank=True, default="")
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.API)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["idempotency_key", "key_position"],
                condition=Q(idempotency_key__isnull=False),
                name="tx_idempotency_key_once",
            )
        ]
        indexes = [models.Index(fields=["to_email"], name="tx_to_email_idx")]

    def __str__(self) -> str:
        return f"{self.to_email}: {self.subject}"


class TxAttachment(models.Model):
    message = models.ForeignKey(TxMessage, on_delete=models.CASCADE, related_name="attachments")
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=255, default="application/octet-stream")
    data = models.BinaryField()
    size = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["id"]
