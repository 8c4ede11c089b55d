"""The alerts' refusals on the page in the reader's language: German when asked, English
otherwise.

They need the compiled catalogue (scripts/messages) to carry these strings.
"""

import pytest
from django.urls import reverse

from postroom.alerts import services
from postroom.alerts.models import Alert

pytestmark = pytest.mark.django_db

GERMAN = {"HTTP_ACCEPT_LANGUAGE": "de-DE,de;q=0.9"}


@pytest.fixture
def alert(owner) -> Alert:
    return services.notify("campaign_paused", "campaign_paused:1", "Spring paused itself", "")


@pytest.mark.parametrize(
    ("headers", "said"),
    [(GERMAN, "Warnung %s wurde bereits bestätigt"), ({}, "alert %s was already acknowledged")],
)
def test_acknowledging_twice_is_refused_in_the_readers_language(
    owner_client, owner, alert, headers, said
):
    services.acknowledge(alert.pk, owner)
    url = reverse("alert_acknowledge", args=[alert.pk])

    page = owner_client.post(url, follow=True, **headers).content.decode()

    assert said % alert.pk in page


@pytest.mark.parametrize(
    ("headers", "said"),
    [(GERMAN, "Warnung 999 existiert nicht"), ({}, "alert 999 does not exist")],
)
def test_an_unknown_alert_is_refused_in_the_readers_language(owner_client, headers, said):
    url = reverse("alert_acknowledge", args=[999])

    page = owner_client.post(url, follow=True, **headers).content.decode()

    assert said in page
