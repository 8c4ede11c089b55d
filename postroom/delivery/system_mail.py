"""Postroom's own plain-text emails (alerts, invitations, password resets): one builder.

They carry Auto-Submitted so no vacation reply comes back, and go through a
sender's transport and limits like every other message (see outgoing.py).
"""

from email.message import EmailMessage
from email.policy import SMTP
from email.utils import make_msgid

from postroom.campaigns.services import PLACEHOLDER_FROM, default_from_email
from postroom.delivery.models import Sender
from postroom.errors import PostroomError
from postroom.mail.compose import BuiltMessage

# CRLF for the wire; headers unfolded up to RFC 5322's hard limit, so the outbox
# (which reads single-line headers) shows the subject.
POLICY = SMTP.clone(max_line_length=998)


def from_address(sender: Sender | None) -> str:
    try:
        return default_from_email(sender)
    except PostroomError:
        return PLACEHOLDER_FROM


def plain_message(sender: Sender | None, to: str, subject: str, body: str) -> BuiltMessage:
    mail_from = from_address(sender)
    message = EmailMessage(policy=POLICY)
    message["From"] = mail_from
    message["To"] = to
    message["Subject"] = subject
    message_id = make_msgid(domain=mail_from.rpartition("@")[2] or "postroom.invalid")
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to it
    message.set_content(body.rstrip("\n") + "\n")
    return BuiltMessage(message.as_bytes(), message_id, mail_from, to, needs_smtputf8=False)
