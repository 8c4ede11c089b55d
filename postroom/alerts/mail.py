"""The alert email: one plain-text message per admin, through the notification sender."""

import logging

from django.conf import settings

from postroom.alerts.models import Alert
from postroom.alerts.services import admins, notification_sender
from postroom.delivery.models import Sender
from postroom.delivery.outgoing import send_now
from postroom.delivery.system_mail import plain_message
from postroom.errors import PostroomError
from postroom.mail.compose import BuiltMessage

log = logging.getLogger("postroom.alerts")


def on_raised(sender: object, alert_id: int, **kwargs: object) -> None:
    """`services.raised` receiver: email the admins about the alert just committed."""
    alert = Alert.objects.filter(pk=alert_id).first()
    if alert is not None:
        email_admins(alert)


def email_admins(alert: Alert) -> int:
    """Email every admin about `alert`; the number accepted. Never raises.

    A notification sender that is itself waiting (unreachable) is skipped for
    the local outbox: it would fail, and trying would hold up the caller for
    its connect timeout.
    """
    addresses = list(dict.fromkeys(admins().values_list("email", flat=True)))
    if not addresses:
        _note(alert, 0, "", "no active admin has an email address")
        return 0
    sender = notification_sender()
    via = sender.name if sender else "the local outbox"
    if sender is not None and _waiting(sender):
        via = f"the local outbox ({sender.name!r} is unreachable)"
        sender = None
    try:
        messages = [_message(alert, address, sender) for address in addresses]
        results = send_now(sender, messages)
    except Exception as exc:  # any failure here must stay here
        log.exception("could not email the alert %s", alert.key)
        reason = str(exc) if isinstance(exc, PostroomError) else f"{type(exc).__name__}: {exc}"
        _note(alert, 0, via, reason)
        return 0
    sent = sum(1 for r in results if r.ok)
    errors = sorted({r.reply or r.message for r in results if not r.ok} - {""})
    _note(alert, sent, via, "; ".join(errors))
    return sent


def _waiting(sender: Sender) -> bool:
    return sender.failing_since is not None or sender.is_backing_off


def _note(alert: Alert, sent: int, via: str, error: str) -> None:
    Alert.objects.filter(pk=alert.pk).update(
        emailed=sent, email_via=via[:120], email_error=error[:1000]
    )


def _message(alert: Alert, address: str, sender: Sender | None) -> BuiltMessage:
    base = settings.POSTROOM_BASE_URL
    lines = [alert.title + ".", ""]
    if alert.message:
        lines += [alert.message, ""]
    if alert.campaign_id:
        lines.append(f"The campaign: {base}/campaigns/{alert.campaign_id}/")
    lines.append(f"Acknowledge it on the dashboard: {base}/")
    return plain_message(sender, address, f"Postroom: {alert.title}", "\n".join(lines))
