"""A sender's refusals in the reader's language: German on a German page or API call,
the same English as ever without Accept-Language."""

import html

import pytest
from django.test import Client
from django.urls import reverse

from postroom.accounts.models import Role
from postroom.api.models import ApiToken
from postroom.delivery.models import Sender

pytestmark = pytest.mark.django_db

GERMAN = {"HTTP_ACCEPT_LANGUAGE": "de"}
FORM = {"name": "relay", "host": "smtp.example.org", "port": 587, "tls": "starttls",
        "max_connections": 1, "rates": "35/fortnight"}  # fmt: skip


def api_client(owner) -> Client:
    from postroom.accounts.models import Profile

    Profile.objects.get_or_create(user=owner, defaults={"role": Role.OWNER})
    secret = ApiToken.issue(owner, "tests")[1]
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")


def page_of(response) -> str:
    return html.unescape(response.content.decode())


def test_a_rate_with_an_unknown_unit_is_refused_in_german_on_a_german_page(owner_client):
    response = owner_client.post(reverse("sender_new"), FORM, **GERMAN)

    assert response.status_code == 400
    assert "'35/fortnight': unbekannte Einheit 'fortnight'; verwenden Sie second" in page_of(
        response
    )
    assert "unknown unit" not in page_of(response)
    assert not Sender.objects.exists()


def test_the_same_refusal_is_english_without_a_language(owner_client):
    response = owner_client.post(reverse("sender_new"), FORM)

    assert response.status_code == 400
    assert "'35/fortnight': unknown unit 'fortnight'; use second, minute, hour or day" in (
        page_of(response)
    )


def test_the_api_says_a_sender_is_missing_in_the_callers_language(owner):
    api = api_client(owner)

    german = api.get("/api/senders/nope", **GERMAN)
    english = api.get("/api/senders/nope")

    assert german.status_code == english.status_code == 404
    assert german.json()["detail"] == "Absender 'nope' existiert nicht"
    assert english.json()["detail"] == "sender 'nope' does not exist"
