"""RSS/Atom feeds sent as digest campaigns: the feed, and every item it has seen."""

from django.db import models


class Feed(models.Model):
    name = models.CharField(max_length=200, unique=True)
    url = models.URLField(max_length=2000)
    lists = models.ManyToManyField("audience.MailingList", blank=True, related_name="+")
    segment = models.ForeignKey("audience.Segment", null=True, blank=True, on_delete=models.PROTECT)
    sender = models.ForeignKey("delivery.Sender", null=True, blank=True, on_delete=models.PROTECT)
    # Empty: the campaigns' default From address (POSTROOM_FROM_EMAIL or the sender's).
    from_email = models.CharField(max_length=320, blank=True, default="")
    from_name = models.CharField(max_length=200, blank=True, default="")
    subject = models.CharField(max_length=998, default="{{ feed }}: {{ items|length }} new")
    # Jinja2 (sandboxed), rendered once per digest with `feed` and `items` (title, link, summary).
    template = models.TextField()
    interval_minutes = models.PositiveIntegerField(default=60)
    minimum_items = models.PositiveIntegerField(default=1)
    active = models.BooleanField(default=True)
    last_checked = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    # A lease on checking, so two workers' side threads never check one feed at once.
    claimed_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name


class FeedItem(models.Model):
    """One item seen: unique per feed and guid, so it is recorded (and sent) once."""

    feed = models.ForeignKey(Feed, on_delete=models.CASCADE, related_name="items")
    guid = models.CharField(max_length=2000)
    title = models.TextField(blank=True, default="")
    link = models.TextField(blank=True, default="")
    summary = models.TextField(blank=True, default="")
    seen_at = models.DateTimeField(auto_now_add=True)
    # Set in the transaction that creates the digest campaign: never sent twice.
    campaign = models.ForeignKey(
        "campaigns.Campaign", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["feed", "guid"], name="feed_item_once")]
