"""The A/B tests' refusals in the caller's language: German when asked, English otherwise.

They need the compiled catalogue (scripts/messages) to carry these strings.
"""

import pytest

from postroom.abtests import services
from postroom.campaigns.models import Campaign
from tests.api.conftest import api, refused, token_for  # noqa: F401
from tests.delivery.helpers import make_audience, make_campaign

pytestmark = pytest.mark.django_db

GERMAN = {"HTTP_ACCEPT_LANGUAGE": "de-DE,de;q=0.9"}


@pytest.fixture
def draft(db) -> Campaign:
    return make_campaign(make_audience(5), subject="Subject A")


@pytest.mark.parametrize(
    ("headers", "said"),
    [(GERMAN, "Kampagne %s ist kein A/B-Test"), ({}, "campaign %s is not an A/B test")],
)
def test_a_campaign_without_a_test_is_said_so_in_the_callers_language(
    api,  # noqa: F811
    draft,
    headers,
    said,
):
    response = api.get(f"/api/campaigns/{draft.pk}/abtest", **headers)

    assert refused(response, 404) == said % draft.pk


@pytest.mark.parametrize(
    ("headers", "said"),
    [
        (GERMAN, "der A/B-Test der Kampagne %s hat noch nicht begonnen"),
        ({}, "the A/B test of campaign %s has not started"),
    ],
)
def test_deciding_a_draft_test_is_refused_in_the_callers_language(
    api,  # noqa: F811
    draft,
    headers,
    said,
):
    services.make_test(draft)

    response = api.post(f"/api/campaigns/{draft.pk}/abtest/decide", {"winner": "A"}, **headers)

    assert refused(response, 400) == said % draft.pk
    assert Campaign.objects.count() == 2  # no campaign for the rest was made
