"""Webhook endpoint refusals in the reader's language: the operator on the webhooks page,
the API caller by Accept-Language; English without one."""

import json

import pytest

from postroom.api.models import ApiToken
from postroom.webhooks.models import Endpoint

pytestmark = pytest.mark.django_db


def test_the_page_refuses_a_url_that_is_not_http_in_the_operators_language(owner_client):
    form = {"name": "CRM", "url": "ftp://crm.example.org", "events": ["import.finished"]}

    german = owner_client.post("/settings/webhooks/", form, HTTP_ACCEPT_LANGUAGE="de")
    english = owner_client.post("/settings/webhooks/", form)

    assert german.status_code == english.status_code == 400
    assert "ist keine http(s)-URL: schreiben Sie sie als https://example.org/hook" in german.text
    assert "is not an http(s) URL: write it as https://example.org/hook" in english.text
    assert not Endpoint.objects.exists()


def test_the_api_refuses_a_second_endpoint_of_the_same_name_in_the_callers_language(client, owner):
    _, secret = ApiToken.issue(owner, "tests")
    body = json.dumps(
        {"name": "CRM", "url": "https://crm.example.org/hook", "events": ["import.finished"]}
    )

    def create(**headers):
        headers["Authorization"] = f"Bearer {secret}"
        return client.post("/api/webhooks", body, content_type="application/json", headers=headers)

    assert create().status_code == 201
    german, english = create(**{"Accept-Language": "de"}), create()

    assert german.status_code == english.status_code == 400
    assert german.json() == {"detail": "einen Endpunkt namens 'CRM' gibt es schon"}
    assert english.json() == {"detail": "an endpoint named 'CRM' already exists"}
    assert Endpoint.objects.count() == 1
