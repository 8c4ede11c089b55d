"""Alerts: record one, email the admins, acknowledge, clear. Views, CLI and workers call these.

`notify` is the single entry point: every trigger (a campaign pausing itself
or finishing, a sender waiting too long, a worker dying or being restarted)
goes through it, so de-duplication and delivery live in one place.
"""

import logging

from django.contrib.auth import get_user_model
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F, QuerySet
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext

from postroom.accounts import roles
from postroom.accounts.models import Role
from postroom.alerts.models import Alert, NotificationSettings
from postroom.delivery.models import Sender
from postroom.errors import InvalidInput, NotFound
from postroom.webhooks import events as webhooks

log = logging.getLogger("postroom.alerts")

Kind = Alert.Kind


# Sent once a new alert is committed; alerts.mail emails the admins on it (connected in
# AlertsConfig.ready), so recording an alert never imports the mail path it uses.
raised = Signal()


def notify(
    kind: str,
    key: str,
    title: str,
    message: str = "",
    *,
    campaign_id: int | None = None,
    sender_id: int | None = None,
) -> Alert | None:
    """Record that `key` happened and email the admins, once while it stays open.

    A repeat of an open alert only counts on it (no second email). The email
    goes after the caller's transaction commits, so a rolled-back pause or
    finish never alerts, and a slow mail server never holds a database lock.
    Never raises: an alert that cannot be recorded or sent must not stop the
    worker, the supervisor or a request; it is logged instead.

    Each new alert is also the webhook event `alert.raised`, queued in the same
    transaction. The campaign events (started, paused by anyone, finished) come
    from the campaign event log instead (delivery.events.record), which also
    sees pauses by an operator.
    """
    now = timezone.now()
    try:
        with transaction.atomic():
            repeated = Alert.objects.filter(key=key, cleared_at__isnull=True).update(
                repeats=F("repeats") + 1, last_at=now, message=message[:2000]
            )
            if repeated:
                return None
            alert = Alert.objects.create(
                kind=kind,
                key=key[:200],
                title=title[:300],
                message=message[:2000],
                campaign_id=campaign_id,
                sender_id=sender_id,
                created_at=now,
                last_at=now,
            )
            webhooks.emit(
                "alert.raised",
                {
                    "kind": kind,
                    "key": alert.key,
                    "title": alert.title,
                    "message": alert.message,
                    "campaign_id": campaign_id,
                    "sender_id": sender_id,
                    "at": now.isoformat(),
                },
            )
    except IntegrityError:  # another process recorded the same condition a moment ago
        return None
    except DatabaseError:
        log.exception("could not record the alert %s", key)
        return None
    log.warning("alert: %s%s", title, f" ({message})" if message else "")
    transaction.on_commit(lambda: raised.send(Alert, alert_id=alert.pk), robust=True)
    return alert


def clear(key: str) -> int:
    """The condition behind `key` is over (a sender came back): a new one will alert again."""
    return Alert.objects.filter(key=key, cleared_at__isnull=True).update(cleared_at=timezone.now())


def acknowledge(alert_id: int, user) -> Alert:
    """Someone has seen it: it leaves the dashboard. An event also closes; a condition
    still going on stays open, so it does not alert again until it ends."""
    alert = Alert.objects.filter(pk=alert_id).first()
    if alert is None:
        raise NotFound(gettext("alert %(id)s does not exist") % {"id": alert_id})
    if alert.acknowledged_at is not None:
        raise InvalidInput(_acknowledged_already(alert_id))
    now = timezone.now()
    fields = {"acknowledged_at": now, "acknowledged_by": user}
    if not alert.is_condition:
        fields["cleared_at"] = alert.cleared_at or now
    changed = Alert.objects.filter(pk=alert_id, acknowledged_at__isnull=True).update(**fields)
    if not changed:
        raise InvalidInput(_acknowledged_already(alert_id))
    alert.refresh_from_db()
    return alert


def _acknowledged_already(alert_id: int) -> str:
    return gettext("alert %(id)s was already acknowledged") % {"id": alert_id}


def unacknowledged() -> QuerySet[Alert]:
    """What the dashboard shows: every alert nobody has acknowledged yet, newest first."""
    return Alert.objects.filter(acknowledged_at__isnull=True).select_related("campaign", "sender")


def admins() -> QuerySet:
    """Who gets alert emails: active owners and admins with an address (editors and
    viewers do not run the installation)."""
    staff = get_user_model().objects.filter(is_staff=True, is_active=True).exclude(email="")
    chosen = [u.pk for u in staff if roles.at_least(roles.role_of(u), Role.ADMIN)]
    return staff.filter(pk__in=chosen).order_by("pk")


def notification_sender() -> Sender | None:
    """The sender alert emails go through; None is the local outbox."""
    return NotificationSettings.load().sender


def set_notification_sender(sender_id: int | None, user=None) -> NotificationSettings:
    sender = None
    if sender_id is not None:
        sender = Sender.objects.filter(pk=sender_id).first()
        if sender is None:
            raise InvalidInput(
                gettext("sender %(id)s does not exist; nothing was changed") % {"id": sender_id}
            )
    row = NotificationSettings.load()
    row.sender = sender
    row.updated_by = user
    row.save()
    return row
