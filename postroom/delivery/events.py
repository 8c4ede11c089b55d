"""The campaign event log (alerts to people are postroom.alerts)."""

import logging

from postroom.campaigns.models import Campaign
from postroom.delivery.models import CampaignEvent
from postroom.webhooks.events import emit

log = logging.getLogger("postroom.delivery")

Kind = CampaignEvent.Kind


# The campaign events other systems can hear about (webhooks), by the log's kind.
WEBHOOK_EVENTS: dict[str, str] = {
    Kind.STARTED: "campaign.started",
    Kind.PAUSED: "campaign.paused",
    Kind.AUTO_PAUSED: "campaign.paused",
    Kind.FINISHED: "campaign.finished",
}


def record(campaign_id: int, kind: str, message: str = "") -> CampaignEvent:
    """Log what happened to a campaign; the one place its webhook events come from too."""
    log.info("campaign %s: %s %s", campaign_id, kind, message)
    event = CampaignEvent.objects.create(campaign_id=campaign_id, kind=kind, message=message[:1000])
    if kind in WEBHOOK_EVENTS:
        name = Campaign.objects.filter(pk=campaign_id).values_list("name", flat=True).first()
        emit(
            WEBHOOK_EVENTS[kind],
            {
                "campaign": {"id": campaign_id, "name": name},
                "message": message,
                "by_itself": kind == Kind.AUTO_PAUSED,
            },
        )
    return event
