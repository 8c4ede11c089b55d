"""An unsubscribe reaches campaigns already under way, not only later ones."""

from datetime import timedelta

import pytest
from django.utils import timezone

from postroom.audience import services as audience
from postroom.campaigns import services
from postroom.campaigns.models import Campaign
from postroom.delivery import control
from postroom.delivery.models import Delivery, OutboxMessage
from postroom.delivery.worker import DeliveryWorker
from postroom.tracking import links


@pytest.mark.django_db(transaction=True)
def test_a_one_click_unsubscribe_during_a_send_skips_that_reader(client, news, ann, campaign):
    bob = audience.add_subscriber("bob@example.com", lists=[news])
    assert control.start(campaign) == 2
    token = links.default_signer().token("u", campaign.pk, ann.pk)

    assert client.post(f"/u/{token}/", {"List-Unsubscribe": "One-Click"}).status_code == 200
    DeliveryWorker().run(until_idle=True)

    states = dict(Delivery.objects.filter(campaign=campaign).values_list("email", "state"))
    assert states == {"ann@example.com": "skipped", "bob@example.com": "sent"}
    assert list(OutboxMessage.objects.values_list("rcpt_to", flat=True)) == [bob.email]


@pytest.mark.django_db(transaction=True)
def test_the_worker_starts_a_scheduled_campaign_when_it_is_due(news, ann, campaign):
    services.schedule(campaign, timezone.now() + timedelta(seconds=1))
    Campaign.objects.filter(pk=campaign.pk).update(send_at=timezone.now())  # due now

    DeliveryWorker().run(until_idle=True)

    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.FINISHED
    assert list(OutboxMessage.objects.values_list("rcpt_to", flat=True)) == [ann.email]
