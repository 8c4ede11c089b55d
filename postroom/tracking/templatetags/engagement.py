"""`{% campaign_engagement campaign %}`: the opens, clicks and bounces card of a campaign page.

An inclusion tag, so the campaign page needs one line and no view change.
"""

from django import template

from postroom.campaigns.models import Campaign
from postroom.tracking.activity import campaign_engagement as engagement_of

register = template.Library()


@register.inclusion_tag("web/tracking/_campaign_engagement.html")
def campaign_engagement(campaign: Campaign) -> dict:
    return {"campaign": campaign, "engagement": engagement_of(campaign)}
