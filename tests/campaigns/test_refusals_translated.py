"""A campaign's refusals in the reader's language: German when asked, English otherwise.

They need the compiled catalogue (scripts/messages) to carry these strings.
"""

import pytest
from django.urls import reverse

from postroom.campaigns.models import Campaign
from tests.api.conftest import api, refused, token_for  # noqa: F401

GERMAN = {"HTTP_ACCEPT_LANGUAGE": "de-DE,de;q=0.9"}


def schedule_in_the_past(client, campaign: Campaign, **headers) -> str:
    url = reverse("campaign_schedule", args=[campaign.pk])
    when = {"send_at": "2001-02-03T04:05", "timezone": "Europe/Berlin"}
    return client.post(url, when, follow=True, **headers).content.decode()


def test_a_send_time_in_the_past_is_refused_in_german_on_the_page(owner_client, campaign):
    page = schedule_in_the_past(owner_client, campaign, **GERMAN)

    assert (
        "Nicht geplant: die Sendezeit liegt in der Vergangenheit;"
        " starten Sie die Kampagne stattdessen" in page
    )
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT


def test_the_same_refusal_is_english_without_a_language(owner_client, campaign):
    page = schedule_in_the_past(owner_client, campaign)

    assert "Not scheduled: the send time is in the past; start the campaign instead" in page


@pytest.mark.parametrize(
    ("headers", "said"),
    [
        (GERMAN, "Kampagne %s hat den Status draft; sie kann nicht pausiert werden"),
        ({}, "campaign %s is draft; it cannot be paused"),
    ],
)
def test_the_api_says_why_a_draft_cannot_pause_in_the_callers_language(
    api,  # noqa: F811
    campaign,
    headers,
    said,
):
    response = api.post(f"/api/campaigns/{campaign.pk}/pause", **headers)

    assert refused(response, 400) == said % campaign.pk
