"""The tracking refusals reach people in their language: an operator on the bounces page,
a website's visitor through the public sign-up endpoint; English without Accept-Language."""

import pytest
from django.urls import reverse

from tests.signups.helpers import post_json
from tests.tracking.test_bounce_pages import reported  # noqa: F401
from tests.tracking.test_bounces import suppression


def test_un_suppressing_without_a_reason_is_refused_in_the_operators_language(
    owner_client,
    reported,  # noqa: F811
):
    hard, _ = reported
    url = reverse("bounce_lift", args=[hard.pk])

    german = owner_client.post(url, {"reason": " "}, follow=True, HTTP_ACCEPT_LANGUAGE="de")
    english = owner_client.post(url, {"reason": " "}, follow=True)

    assert "sagen Sie, warum die Adresse wieder angeschrieben werden darf" in german.text
    assert "say why the address may be mailed again" in english.text
    assert suppression(hard.email) == "bounced"


@pytest.mark.django_db
def test_a_sign_up_naming_no_list_is_refused_in_the_visitors_language(client):
    german = post_json(
        client, {"email": "ann@example.com", "lists": []}, **{"Accept-Language": "de"}
    )
    english = post_json(client, {"email": "ann@example.com", "lists": []})

    assert german.status_code == english.status_code == 400
    assert german.json() == {
        "detail": "nennen Sie mindestens eine Liste (ihre UUID, von der Seite der Liste)"
    }
    assert english.json() == {"detail": "name at least one list (its uuid, from the list's page)"}
