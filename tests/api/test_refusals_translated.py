"""The API answers a refusal in the caller's Accept-Language, in English without one.

A token carries no session, so LocaleMiddleware's choice from Accept-Language is the
one that counts. Only the human `detail` is translated: the keys, the status, the
`errors` entries and pydantic's own words stay as they are, for the scripts that read them.
"""

import pytest

from tests.api.conftest import refused

pytestmark = pytest.mark.django_db

GERMAN = {"HTTP_ACCEPT_LANGUAGE": "de"}


def test_a_domain_refusal_follows_the_callers_language(api):
    german = refused(api.get("/api/lists/999999", **GERMAN), 404)
    english = refused(api.get("/api/lists/999999"), 404)

    assert german == "keine Liste mit der ID 999999"
    assert english == "no list with id 999999"


def test_a_schema_refusal_keeps_pydantics_words_and_the_field_entries(api):
    german = api.post("/api/webhooks", {}, **GERMAN)
    english = api.post("/api/webhooks", {})

    assert german.status_code == english.status_code == 422
    assert german.json()["errors"] == english.json()["errors"]
    count = len(english.json()["errors"]) - 1
    assert count >= 1
    assert english.json()["detail"] == f"name: Field required (and {count} more)"
    assert german.json()["detail"] == f"name: Field required (weitere Fehler: {count})"


def test_a_missing_token_is_explained_in_the_callers_language(client):
    german = refused(client.get("/api/lists", HTTP_ACCEPT_LANGUAGE="de"), 401)
    english = refused(client.get("/api/lists"), 401)

    assert german == "ein gültiger API-Token ist nötig (Authorization: Bearer TOKEN)"
    assert english == "a valid API token is needed (Authorization: Bearer TOKEN)"


def test_a_tokens_scope_refusal_is_said_in_the_callers_language(token_for):
    reader = token_for(scopes=["read"])

    german = refused(reader.post("/api/lists", {"name": "Weekly"}, **GERMAN), 403)
    english = refused(reader.post("/api/lists", {"name": "Weekly"}), 403)

    assert german == "Dieser Token darf nur lesen."
    assert english == "This token is read-only."
