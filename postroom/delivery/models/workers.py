"""Worker heartbeats, so stalls are visible and a dead worker's rows are reclaimed fast."""

from django.db import models
from django.utils import timezone


class Worker(models.Model):
    id = models.CharField(max_length=100, primary_key=True)  # host:pid:random
    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now, db_index=True)
    sent = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["started_at"]

    def __str__(self) -> str:
        return self.id
