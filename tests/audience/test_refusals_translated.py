"""The audience's refusals in the reader's language: German when asked, English otherwise.

They need the compiled catalogue (scripts/messages) to carry these strings.
"""

import pytest
from django.urls import reverse

from postroom.audience import services
from postroom.audience.models import MailingList, Segment, Subscriber
from tests.api.conftest import api, refused, token_for  # noqa: F401

pytestmark = pytest.mark.django_db

GERMAN = {"HTTP_ACCEPT_LANGUAGE": "de-DE,de;q=0.9"}


@pytest.fixture
def news() -> MailingList:
    return services.create_list("news")


@pytest.mark.parametrize(
    ("headers", "said"),
    [
        (GERMAN, "&#x27;nope&#x27; ist keine gültige E-Mail-Adresse: "),
        ({}, "&#x27;nope&#x27; is not a valid email address: "),
    ],
)
def test_an_invalid_address_is_refused_on_the_page_in_the_readers_language(
    owner_client, news, headers, said
):
    post = {"email": "nope", "lists": [news.pk], "attributes": ""}

    response = owner_client.post(reverse("subscriber_new"), post, **headers)

    assert response.status_code == 400
    assert said in response.content.decode()
    assert not Subscriber.objects.exists()


@pytest.mark.parametrize(
    ("headers", "said"),
    [
        (GERMAN, "Bedingung 1: unbekannte Liste &#x27;missing&#x27;"),
        ({}, "condition 1: unknown list &#x27;missing&#x27;"),
    ],
)
def test_a_segment_refusal_reads_whole_though_built_from_parts(owner_client, news, headers, said):
    post = {"name": "bad", "mode": "rows", "match": "all", "field": ["list"], "key": [""],
            "op": ["in"], "value": ["missing"], "save": "1"}  # fmt: skip

    response = owner_client.post(reverse("segment_new"), post, **headers)

    assert response.status_code == 400
    assert said in response.content.decode()
    assert not Segment.objects.exists()


@pytest.mark.parametrize(
    ("headers", "said"),
    [
        (GERMAN, "eine Liste namens 'news' existiert bereits"),
        ({}, "a list named 'news' already exists"),
    ],
)
def test_the_api_refuses_a_duplicate_list_in_the_callers_language(
    api,  # noqa: F811
    news,
    headers,
    said,
):
    assert refused(api.post("/api/lists", {"name": "news"}, **headers), 400) == said
