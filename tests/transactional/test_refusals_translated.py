"""Transactional refusals in the reader's language: the caller of POST /api/tx (its
Accept-Language) and the operator on the templates page; English without one."""

import json

import pytest

from postroom.api.models import ApiToken
from postroom.transactional.models import TxTemplate

pytestmark = pytest.mark.django_db


def test_the_api_refuses_a_message_without_a_recipient_in_the_callers_language(client, owner):
    _, secret = ApiToken.issue(owner, "tests")
    body = json.dumps({"to": [], "subject": "Receipt", "body": "Thanks.", "from": "a@example.org"})

    def send(**headers):
        headers["Authorization"] = f"Bearer {secret}"
        return client.post("/api/tx", body, content_type="application/json", headers=headers)

    german, english = send(**{"Accept-Language": "de"}), send()

    assert german.status_code == english.status_code == 400
    assert german.json() == {"detail": "geben Sie einen Empfänger an (`to`)"}
    assert english.json() == {"detail": "give a recipient (`to`)"}


def test_the_templates_page_refuses_a_numeric_name_in_the_operators_language(owner_client):
    form = {"name": "123", "subject": "Code", "body_format": "plain", "body": "Your code"}

    german = owner_client.post("/transactional/templates/new/", form, HTTP_ACCEPT_LANGUAGE="de")
    english = owner_client.post("/transactional/templates/new/", form)

    assert german.status_code == english.status_code == 400
    assert "der Name einer Vorlage kann keine Zahl sein (Zahlen sind IDs)" in german.text
    assert "a template&#x27;s name cannot be a number (numbers are ids)" in english.text
    assert not TxTemplate.objects.exists()
