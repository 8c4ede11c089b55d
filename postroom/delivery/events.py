"""The campaign event log, and alerting people when a campaign pauses itself."""

import logging
from email.message import EmailMessage
from email.utils import make_msgid

from django.conf import settings
from django.contrib.auth import get_user_model

from postroom.campaigns.models import Campaign
from postroom.delivery.models import CampaignEvent

log = logging.getLogger("postroom.delivery")

Kind = CampaignEvent.Kind


def record(campaign_id: int, kind: str, message: str = "") -> CampaignEvent:
    log.info("campaign %s: %s %s", campaign_id, kind, message)
    return CampaignEvent.objects.create(campaign_id=campaign_id, kind=kind, message=message[:1000])


def alert_staff(campaign: Campaign, reason: str, through_sender: bool = True) -> int:
    """Email every staff user that the campaign paused itself; the number of messages sent.

    It goes through the campaign's own sender unless that sender is what failed,
    then to the local outbox, where the dashboard shows it too. Never raises:
    an alert that cannot go out must not stop the worker.
    """
    from postroom.campaigns.compose import BuiltMessage
    from postroom.delivery.outgoing import send_now

    addresses = list(
        get_user_model()
        .objects.filter(is_staff=True, is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    if not addresses:
        return 0
    sender = campaign.sender if through_sender else None
    mail_from = (sender.envelope_from if sender else "") or campaign.from_email
    url = f"{settings.POSTROOM_BASE_URL}/campaigns/{campaign.pk}/"
    messages = []
    for address in addresses:
        message = EmailMessage()
        message["From"] = mail_from
        message["To"] = address
        message["Subject"] = f"Postroom: campaign {campaign.name!r} paused itself"
        message_id = make_msgid(domain=mail_from.rpartition("@")[2] or "postroom.invalid")
        message["Message-ID"] = message_id
        message.set_content(
            f"The campaign {campaign.name!r} (#{campaign.pk}) was paused automatically.\n\n"
            f"Reason: {reason}\n\nSee {url} and resume it when the cause is fixed.\n"
        )
        messages.append(
            BuiltMessage(message.as_bytes(), message_id, mail_from, address, needs_smtputf8=False)
        )
    try:
        results = send_now(sender, messages)
    except Exception:
        log.exception("could not alert staff about campaign %s", campaign.pk)
        return 0
    return sum(1 for r in results if r.ok)
