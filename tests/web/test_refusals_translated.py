"""The admin's own refusals on a page in the reader's language: German when asked.

They need the compiled catalogue (scripts/messages) to carry these strings.
"""

import pytest
from django.urls import reverse

from postroom.audience import services as audience
from postroom.audience.models import Subscription

GERMAN = {"HTTP_ACCEPT_LANGUAGE": "de-DE,de;q=0.9"}


@pytest.mark.parametrize(
    ("headers", "said"),
    [(GERMAN, "wählen Sie eine Liste"), ({}, "choose a list")],
)
def test_subscribing_without_a_list_is_refused_in_the_readers_language(owner_client, headers, said):
    ann = audience.add_subscriber("ann@example.com")
    url = reverse("subscriber_subscriptions", args=[ann.pk])

    response = owner_client.post(url, {"action": "subscribe"}, follow=True, **headers)

    assert said in response.content.decode()
    assert not Subscription.objects.filter(subscriber=ann).exists()


@pytest.mark.parametrize(
    ("headers", "said"),
    [(GERMAN, "unbekannte Aktion"), ({}, "unknown action")],
)
def test_an_unknown_action_is_refused_in_the_readers_language(owner_client, headers, said):
    ann = audience.add_subscriber("ann@example.com")
    url = reverse("subscriber_subscriptions", args=[ann.pk])

    response = owner_client.post(url, {"action": "shred"}, follow=True, **headers)

    assert said in response.content.decode()
