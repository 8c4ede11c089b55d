"""Campaign events and failed recipients raise their webhooks from the engine's own records."""

import pytest

from postroom.campaigns.models import Campaign
from postroom.delivery import control
from postroom.testing.smtpserver import CaptureServer
from tests.delivery.helpers import make_audience, make_campaign, run_until_idle, smtp_sender
from tests.webhooks.conftest import sent_events

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_campaign_s_start_pause_and_finish_raise_their_events(hook):
    campaign = make_campaign(make_audience(3), name="November news")
    control.start(campaign)
    control.pause(campaign, "checking a link")
    control.resume(campaign)
    run_until_idle()
    assert Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.FINISHED
    events = [(e, d) for e, d in sent_events() if e.startswith("campaign.")]
    assert [e for e, _ in events] == ["campaign.started", "campaign.paused", "campaign.finished"]
    assert events[0][1]["campaign"] == {"id": campaign.pk, "name": "November news"}
    assert events[1][1]["message"] == "checking a link"
    assert events[1][1]["by_itself"] is False


def test_recipients_refused_for_good_raise_delivery_failed(hook):
    with CaptureServer(rcpt_reply={"user1@example.net": "550 5.1.1 no such user"}) as server:
        campaign = make_campaign(make_audience(3), sender=smtp_sender(server))
        control.start(campaign)
        run_until_idle()
    failed = [d for e, d in sent_events() if e == "delivery.failed"]
    assert len(failed) == 1
    assert (failed[0]["email"], failed[0]["campaign_id"]) == ("user1@example.net", campaign.pk)
    assert "550" in failed[0]["reply"]
