"""Invitations and password resets: a signed link, by email, that expires and works once.

Both use Django's password-reset token (it signs the user's id with their
password hash and last log-in, so the link dies once used and after
PASSWORD_RESET_TIMEOUT). The email is queued for the worker (send_soon with no
wait), so the request never waits for an SMTP server and answers the same
whether or not the address is known.
"""

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from postroom.delivery.models import Sender
from postroom.delivery.outgoing import send_soon
from postroom.delivery.system_mail import plain_message

# No slot is due before now, so send_soon stores every message for the worker.
FOR_THE_WORKER = -1.0


def set_password_link(user) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    path = reverse("account_set_password", args=[uid, token])
    return settings.POSTROOM_BASE_URL.rstrip("/") + path


def _days() -> str:
    days = max(1, round(settings.PASSWORD_RESET_TIMEOUT / 86400))
    return "1 day" if days == 1 else f"{days} days"


def send_invitation(user, invited_by: str, sender: Sender | None) -> None:
    body = (
        f"{invited_by} invited you to Postroom as {user.username!r}.\n\n"
        f"Choose your password here (the link works once, for {_days()}):\n"
        f"{set_password_link(user)}\n"
    )
    message = plain_message(sender, user.email, "Your Postroom invitation", body)
    send_soon(sender, [message], wait=FOR_THE_WORKER)


def send_reset(user, sender: Sender | None) -> None:
    body = (
        f"Someone asked to reset the Postroom password of {user.username!r}.\n\n"
        f"Choose a new password here (the link works once, for {_days()}):\n"
        f"{set_password_link(user)}\n\n"
        "If it was not you, ignore this email: your password stays as it is.\n"
    )
    message = plain_message(sender, user.email, "Reset your Postroom password", body)
    send_soon(sender, [message], wait=FOR_THE_WORKER)
