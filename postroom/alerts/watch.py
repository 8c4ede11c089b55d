"""Conditions the worker checks in its periodic maintenance, turned into alerts.

The events (a pause, a finish, a dead worker) call `notify` where they
happen; a sender that has been waiting too long has no such moment, so the
worker looks for it every few seconds. Two cheap queries on small tables.
"""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from postroom.alerts import texts
from postroom.alerts.models import Alert
from postroom.alerts.services import Kind, clear, notify
from postroom.delivery.models import Sender


def sender_key(sender_id: int) -> str:
    return f"sender_waiting:{sender_id}"


def check_waiting_senders() -> None:
    """Alert once per outage for a sender waiting longer than the set time; clear it
    when the sender is back, so the next outage alerts again."""
    now = timezone.now()
    limit = timedelta(minutes=settings.POSTROOM_ALERT_SENDER_WAITING_MINUTES)
    open_keys = set(
        Alert.objects.filter(kind=Kind.SENDER_WAITING, cleared_at__isnull=True).values_list(
            "key", flat=True
        )
    )
    waiting = {
        sender.pk: sender
        for sender in Sender.objects.filter(failing_since__isnull=False).only(
            "id", "name", "failing_since", "last_error"
        )
    }
    for sender in waiting.values():
        since = sender.failing_since
        if since is None or since > now - limit or sender_key(sender.pk) in open_keys:
            continue
        minutes = int((now - since).total_seconds() // 60)
        since = timezone.localtime(sender.failing_since)
        notify(
            Kind.SENDER_WAITING,
            sender_key(sender.pk),
            texts.SENDER_WAITING % {"name": sender.name, "minutes": minutes},
            texts.SENDER_WAITING_TEXT
            % {"since": f"{since:%Y-%m-%d %H:%M}", "error": sender.last_error},
            sender_id=sender.pk,
        )
    for key in open_keys:
        sender_id = int(key.rpartition(":")[2])
        if sender_id not in waiting:
            clear(key)
