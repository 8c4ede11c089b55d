"""Who an A/B test's campaigns go to: a variant to its members, the rest to everyone else.

Registered with the ledger (delivery.ledger.narrow_with) in AppConfig.ready, so
the delivery engine needs to know nothing of tests: it builds each campaign's
ledger with its usual one INSERT…SELECT, over this narrowed queryset.
"""

from django.db.models import Exists, OuterRef, QuerySet

from postroom.abtests.models import ABTest, Member, Variant
from postroom.audience.models import Subscriber
from postroom.campaigns.models import Campaign
from postroom.delivery.models import Delivery


def narrow(campaign: Campaign, recipients: QuerySet[Subscriber]) -> QuerySet[Subscriber]:
    if Variant.objects.filter(campaign=campaign).exists():
        members = Member.objects.filter(campaign=campaign, subscriber=OuterRef("pk"))
        return recipients.filter(Exists(members))
    test = ABTest.objects.filter(rest=campaign).first()
    if test is not None:
        # The test group (drawn once, at the start) and whoever is in a variant's ledger.
        drawn = Member.objects.filter(test=test, subscriber=OuterRef("pk"))
        variants = Variant.objects.filter(test=test).values("campaign_id")
        already = Delivery.objects.filter(campaign_id__in=variants, subscriber=OuterRef("pk"))
        return recipients.exclude(Exists(drawn)).exclude(Exists(already))
    return recipients
