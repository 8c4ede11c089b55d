"""Machine opens and clicks (Apple MPP, scanners, fetches seconds after delivery) told apart
from people's, through the public pixel and redirect, and shown separately."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from postroom.audience import services as audience
from postroom.audience.segments import subscribers_matching
from postroom.delivery import control
from postroom.delivery.models import Delivery, OutboxMessage
from postroom.tracking import activity, machines
from postroom.tracking.models import EngagementEvent
from tests.delivery.helpers import run_until_idle
from tests.tracking.test_engagement import HTML_BODY, click_urls, html_part, path_of, tracked

SAFARI = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"
MAIL_APP = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"  # noqa: E501


@pytest.mark.parametrize(
    ("ip", "agent", "after", "reason"),
    [
        ("17.58.63.12", "Mozilla/5.0", 3600, machines.APPLE_MPP),
        ("17.58.63.12", "", 3600, machines.APPLE_MPP),
        ("203.0.113.9", "Mozilla/5.0", 3600, ""),  # bare agent, not Apple's network
        ("203.0.113.9", "Barracuda Sentinel (EE)", 3600, machines.SCANNER),
        ("203.0.113.9", "python-requests/2.32.3", 3600, machines.SCANNER),
        ("203.0.113.9", "Mozilla/5.0 HeadlessChrome/124.0", 3600, machines.SCANNER),
        ("203.0.113.9", MAIL_APP, 1, machines.TOO_SOON),
        ("203.0.113.9", MAIL_APP, 3600, ""),
        ("203.0.113.9", SAFARI, None, ""),  # not sent by us (a test send): no timing
    ],
)
def test_opens_are_told_apart(settings, ip, agent, after, reason):
    assert machines.machine_reason(ip, agent, after, "open") == reason


def test_clicks_get_longer_than_opens_before_they_look_human(settings):
    assert machines.machine_reason("203.0.113.9", SAFARI, 5, "open") == ""
    assert machines.machine_reason("203.0.113.9", SAFARI, 5, "click") == machines.TOO_SOON


def test_more_proxy_networks_can_be_named(settings):
    settings.POSTROOM_MACHINE_NETWORKS = ["198.51.100.0/24"]

    assert machines.machine_reason("198.51.100.20", SAFARI, 3600) == machines.PROXY


@pytest.fixture
def sent_campaign(transactional_db, campaign, ann, news):
    """A tracked campaign sent to Ann and Bob five minutes ago (the outbox keeps the HTML)."""
    bob = audience.add_subscriber("bob@example.com", name="Bob", lists=[news])
    campaign.body, campaign.body_format = HTML_BODY, "html"
    tracked(campaign)
    control.start(campaign)
    run_until_idle()
    Delivery.objects.filter(campaign=campaign).update(sent_at=timezone.now() - timedelta(minutes=5))
    return campaign, ann, bob


def html_for(subscriber) -> str:
    return html_part(bytes(OutboxMessage.objects.get(rcpt_to=subscriber.email).data))


def pixel(html: str) -> str:
    return path_of(re.search(r'<img src="([^"]+)"', html).group(1))


def test_apple_mpp_and_scanners_are_counted_apart_from_people(client, sent_campaign):
    campaign, ann, bob = sent_campaign
    ann_html, bob_html = html_for(ann), html_for(bob)

    # Ann's iPhone with Mail Privacy Protection, then Ann herself.
    client.get(pixel(ann_html), REMOTE_ADDR="17.58.63.12", HTTP_USER_AGENT="Mozilla/5.0")
    client.get(pixel(ann_html), REMOTE_ADDR="203.0.113.9", HTTP_USER_AGENT=MAIL_APP)
    client.get(path_of(click_urls(ann_html)[0]), REMOTE_ADDR="203.0.113.9", HTTP_USER_AGENT=SAFARI)
    # Bob's company scanner follows every link, then Bob's MPP proxy loads the pixel.
    for url in click_urls(bob_html):
        response = client.get(path_of(url), REMOTE_ADDR="198.51.100.7", HTTP_USER_AGENT=SAFARI)
        assert response.status_code == 302  # a scanner still gets where the link leads
    client.get(pixel(bob_html), REMOTE_ADDR="17.1.2.3", HTTP_USER_AGENT="Mozilla/5.0")

    counts = activity.campaign_engagement(campaign)

    assert counts["opens"] == {"unique": 1, "total": 1, "rate": 50.0}  # Ann, once, herself
    assert counts["clicks"]["unique"] == 1 and counts["clicks"]["total"] == 1
    assert counts["machine_opens"]["total"] == 2
    assert counts["machine_opens"]["by"] == [
        {"reason": "apple-mpp", "label": "Apple Mail Privacy Protection", "count": 2}
    ]
    assert counts["machine_clicks"]["total"] == len(click_urls(bob_html))
    assert {m["reason"] for m in counts["machine_clicks"]["by"]} == {machines.BURST}
    assert [(link["total"], link["unique"]) for link in counts["links"]] == [(1, 1)], counts[
        "links"
    ]


def test_only_people_count_in_opened_and_clicked_segments(client, sent_campaign):
    campaign, ann, bob = sent_campaign
    client.get(pixel(html_for(bob)), REMOTE_ADDR="17.1.2.3", HTTP_USER_AGENT="Mozilla/5.0")
    client.get(pixel(html_for(ann)), REMOTE_ADDR="203.0.113.9", HTTP_USER_AGENT=MAIL_APP)

    opened = subscribers_matching(
        {"all": [{"field": "opened", "op": "in_campaign", "value": campaign.pk}]}
    )

    assert set(opened.values_list("email", flat=True)) == {ann.email}


def test_an_open_right_after_delivery_is_a_prefetch(client, sent_campaign):
    campaign, ann, _ = sent_campaign
    Delivery.objects.filter(campaign=campaign).update(sent_at=timezone.now())

    client.get(pixel(html_for(ann)), REMOTE_ADDR="203.0.113.9", HTTP_USER_AGENT=MAIL_APP)

    assert EngagementEvent.objects.get().machine == machines.TOO_SOON


def test_the_ip_is_read_but_not_kept_unless_asked(client, sent_campaign, settings):
    settings.POSTROOM_TRACK_IP = False
    _, ann, _ = sent_campaign

    client.get(pixel(html_for(ann)), REMOTE_ADDR="17.58.63.12", HTTP_USER_AGENT="Mozilla/5.0")

    event = EngagementEvent.objects.get()
    assert (event.machine, event.ip) == (machines.APPLE_MPP, None)


def test_the_campaign_page_shows_machine_opens_apart(owner_client, client, sent_campaign):
    campaign, ann, _ = sent_campaign
    client.get(pixel(html_for(ann)), REMOTE_ADDR="17.58.63.12", HTTP_USER_AGENT="Mozilla/5.0")

    page = owner_client.get(f"/campaigns/{campaign.pk}/").content.decode()

    assert "opened by people" in page
    assert "1 open (Apple Mail Privacy Protection: 1)" in page
