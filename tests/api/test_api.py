import pytest

from postroom.api.models import ApiToken
from postroom.audience.models import Subscriber


@pytest.fixture
def api(client, owner):
    """A test client that sends the owner's bearer token with every call."""
    _, secret = ApiToken.issue(owner, "tests")
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    return client


def test_calls_without_a_token_are_refused(client, db):
    assert client.get("/api/lists").status_code == 401


def test_a_token_of_a_non_staff_user_is_refused(client, outsider):
    _, secret = ApiToken.issue(outsider, "nope")
    response = client.get("/api/lists", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 401


def test_a_forged_token_is_refused(client, owner):
    ApiToken.issue(owner, "real")
    assert client.get("/api/lists", HTTP_AUTHORIZATION="Bearer pr_forged").status_code == 401


def test_tokens_are_stored_only_as_hashes(owner):
    token, secret = ApiToken.issue(owner, "x")
    assert secret not in (token.token_hash, token.hint)
    assert secret.startswith(token.hint)


def test_it_creates_a_list_and_a_subscriber(api):
    assert (
        api.post("/api/lists", {"name": "news"}, content_type="application/json").status_code == 201
    )
    response = api.post(
        "/api/subscribers",
        {"email": " Ada@Example.COM ", "name": "Ada", "lists": ["news"]},
        content_type="application/json",
    )
    assert response.status_code == 201
    body = response.json()
    assert body["email"] == "ada@example.com"
    assert body["lists"] == ["news"]
    assert body["subscriptions"][0]["consent_source"] == "api"
    assert api.get("/api/subscribers/ADA@example.com").json()["name"] == "Ada"


def test_an_invalid_address_is_refused_and_changes_nothing(api):
    response = api.post(
        "/api/subscribers", {"email": "ada@example.com;Ada;L"}, content_type="application/json"
    )
    assert response.status_code == 400
    assert "not a valid email address" in response.json()["detail"]
    assert not Subscriber.objects.exists()


def test_an_unknown_list_is_a_clear_error(api):
    response = api.post(
        "/api/subscribers",
        {"email": "ada@example.com", "lists": ["nope"]},
        content_type="application/json",
    )
    assert response.status_code == 404
    assert response.json()["detail"] == "no list named 'nope'"
    assert not Subscriber.objects.exists()


def test_subscribers_page_by_keyset(api):
    for n in range(5):
        api.post(
            "/api/subscribers", {"email": f"p{n}@example.com"}, content_type="application/json"
        )
    first = api.get("/api/subscribers?limit=3").json()
    second = api.get(f"/api/subscribers?limit=3&after={first['next']}").json()
    emails = [s["email"] for s in first["items"] + second["items"]]
    assert emails == [f"p{n}@example.com" for n in range(5)]


def test_a_campaign_is_created_started_and_its_ledger_listed(api):
    api.post("/api/lists", {"name": "news"}, content_type="application/json")
    for n in range(3):
        api.post(
            "/api/subscribers",
            {"email": f"r{n}@example.com", "lists": ["news"], "preconfirmed": True},
            content_type="application/json",
        )
    created = api.post(
        "/api/campaigns",
        {
            "name": "Hello",
            "subject": "Hi {{ subscriber.name }}",
            "body": "Hello!",
            "lists": ["news"],
        },
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    campaign_id = created.json()["id"]
    started = api.post(f"/api/campaigns/{campaign_id}/start")
    assert started.status_code == 200, started.content
    assert started.json()["status"] == "running"
    assert started.json()["progress"]["counts"]["pending"] == 3
    ledger = api.get(f"/api/campaigns/{campaign_id}/deliveries?state=pending").json()
    assert sorted(row["email"] for row in ledger["items"]) == [
        f"r{n}@example.com" for n in range(3)
    ]


def test_a_broken_template_is_refused_with_its_line(api):
    api.post("/api/lists", {"name": "news"}, content_type="application/json")
    response = api.post(
        "/api/campaigns",
        {"name": "x", "subject": "s", "body": "ok\n{{ nope }}", "lists": ["news"]},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "line 2" in response.json()["detail"]


def test_the_openapi_schema_lists_every_resource(client, db):
    paths = client.get("/api/openapi.json").json()["paths"]
    assert {"/api/lists", "/api/subscribers", "/api/campaigns"} <= set(paths)
