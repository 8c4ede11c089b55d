"""The campaign event log (alerts to people are postroom.alerts)."""

import logging

from postroom.delivery.models import CampaignEvent

log = logging.getLogger("postroom.delivery")

Kind = CampaignEvent.Kind


def record(campaign_id: int, kind: str, message: str = "") -> CampaignEvent:
    log.info("campaign %s: %s %s", campaign_id, kind, message)
    return CampaignEvent.objects.create(campaign_id=campaign_id, kind=kind, message=message[:1000])
