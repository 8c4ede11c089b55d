"""The in-doubt screens: the campaign page's notice, the delivery log's rows and their buttons."""

import pytest
from django.urls import reverse
from django.utils.html import escape

from postroom.campaigns.models import Campaign
from postroom.delivery.models import CampaignEvent, Delivery
from postroom.testing.smtpserver import CaptureServer
from tests.delivery.helpers import finished_with_doubt

pytestmark = pytest.mark.django_db(transaction=True)

DROPPED = ["user1@example.net", "user4@example.net"]


@pytest.fixture
def campaign():
    with CaptureServer(drop_data=dict.fromkeys(DROPPED, 1)) as server:
        yield finished_with_doubt(server, count=5)


def states(campaign) -> list[str]:
    return [Delivery.objects.get(campaign=campaign, email=e).state for e in DROPPED]


def log_url(campaign) -> str:
    return reverse("campaign_deliveries", args=[campaign.pk]) + "?state=in_doubt"


def resolve_url(campaign) -> str:
    return reverse("campaign_resolve", args=[campaign.pk])


def test_the_campaign_page_counts_them_says_what_it_means_and_links_there(owner_client, campaign):
    panel = owner_client.get(
        reverse("campaign_delivery_panel", args=[campaign.pk])
    ).content.decode()

    assert "2 recipients in doubt." in panel
    assert "may or may not have accepted them" in panel
    assert f'href="{log_url(campaign)}"' in panel


def test_the_log_shows_what_is_known_about_each_row_with_its_buttons(owner_client, campaign):
    page = owner_client.get(log_url(campaign)).content.decode()

    for email in DROPPED:
        assert f'aria-label="Mark {email} delivered"' in page
        assert f'aria-label="Resend {email}"' in page
    for row in Delivery.objects.filter(campaign=campaign, state="in_doubt"):
        assert row.error and escape(row.error) in page  # why it is in doubt
    assert "In doubt since" in page and "relay" in page and " ago</time>" in page
    assert "user0@example.net" not in page  # a sent row is not in this list
    assert "Mark all 2 delivered…" in page and "Resend all 2…" in page


def test_one_row_is_marked_delivered_and_the_log_tells_it_apart(owner_client, campaign):
    row = Delivery.objects.get(campaign=campaign, email=DROPPED[0])

    response = owner_client.post(resolve_url(campaign), {"outcome": "delivered", "id": row.pk})

    assert response.status_code == 302 and response.url == log_url(campaign)
    assert states(campaign) == ["sent", "in_doubt"]
    done = owner_client.get(response.url).content.decode()
    assert "1 recipient marked delivered; they will not be sent again." in done
    sent = owner_client.get(reverse("campaign_deliveries", args=[campaign.pk]) + "?state=sent")
    assert "marked delivered by owner on" in sent.content.decode()


def test_resending_all_asks_first_then_queues_them_and_the_campaign_runs(owner_client, campaign):
    asked = owner_client.post(resolve_url(campaign), {"outcome": "resend", "scope": "all"})

    assert asked.status_code == 200
    assert "Resend: all 2 recipients in doubt?" in asked.content.decode()
    assert states(campaign) == ["in_doubt", "in_doubt"]

    done = owner_client.post(
        resolve_url(campaign), {"outcome": "resend", "scope": "all", "confirm": "1"}
    )

    assert done.status_code == 302
    assert states(campaign) == ["pending", "pending"]
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.RUNNING
    assert CampaignEvent.objects.get(campaign=campaign, kind="resolved").message == (
        "all 2 recipients in doubt resent by owner"
    )


def test_a_row_that_is_no_longer_in_doubt_is_refused_with_the_reason(owner_client, campaign):
    sent = Delivery.objects.get(campaign=campaign, email="user0@example.net")

    response = owner_client.post(
        resolve_url(campaign), {"outcome": "resend", "id": sent.pk}, follow=True
    )

    expected = f"user0@example.net is not in doubt in campaign {campaign.pk} (it is sent)"
    assert expected in response.content.decode()
    assert states(campaign) == ["in_doubt", "in_doubt"]
    bad = owner_client.post(
        resolve_url(campaign), {"outcome": "forget", "scope": "all"}, follow=True
    )
    assert "Choose “Mark delivered” or “Resend”." in bad.content.decode()


def test_outsiders_anonymous_users_and_forged_posts_change_nothing(client, outsider, campaign):
    body = {"outcome": "delivered", "scope": "all", "confirm": "1"}

    assert client.get(log_url(campaign)).status_code == 302
    assert client.post(resolve_url(campaign), body).status_code == 302  # to the login page
    client.force_login(outsider)
    assert client.get(log_url(campaign)).status_code == 403
    assert client.post(resolve_url(campaign), body).status_code == 403
    assert client.get(resolve_url(campaign)).status_code == 403
    assert states(campaign) == ["in_doubt", "in_doubt"]


def test_a_post_without_the_csrf_token_is_refused(owner, campaign):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(owner)

    response = strict.post(
        resolve_url(campaign), {"outcome": "delivered", "scope": "all", "confirm": "1"}
    )

    assert response.status_code == 403
    assert states(campaign) == ["in_doubt", "in_doubt"]
