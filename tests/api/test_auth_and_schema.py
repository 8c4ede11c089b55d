"""API credentials (Bearer, listmonk's HTTP Basic, the UI session), /api/health, the docs and
the schema's error answers."""

import base64
import re
from datetime import timedelta

import pytest
from django.test import Client

from postroom.api.models import ApiToken
from postroom.audience.models import MailingList


@pytest.fixture
def secret(owner) -> str:
    return ApiToken.issue(owner, "shop")[1]


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def post_list(client: Client, **headers):
    return client.post(
        "/api/lists", {"name": "news"}, content_type="application/json", headers=headers
    )


def test_a_wrong_bearer_token_on_a_post_is_401_not_a_csrf_403(client, secret):
    response = post_list(client, authorization="Bearer pr_wrong")
    assert response.status_code == 401
    assert response.json() == {
        "detail": "a valid API token is needed (Authorization: Bearer TOKEN)"
    }
    assert "Bearer" in response["WWW-Authenticate"]
    assert not MailingList.objects.exists()


def test_a_post_with_no_credential_at_all_is_401(client, db):
    assert post_list(client).status_code == 401


def test_http_basic_with_the_token_as_password_is_accepted(client, owner, secret):
    response = post_list(client, authorization=basic("owner", secret))
    assert response.status_code == 201, response.content
    assert MailingList.objects.filter(name="news").exists()


def test_http_basic_may_name_the_token_instead_of_the_user(client, secret):
    assert post_list(client, authorization=basic("shop", secret)).status_code == 201


def test_http_basic_with_a_wrong_user_or_password_is_401(client, owner, secret):
    assert post_list(client, authorization=basic("mallory", secret)).status_code == 401
    assert post_list(client, authorization=basic("owner", "pr_wrong")).status_code == 401
    assert post_list(client, authorization="Basic not-base64!").status_code == 401
    assert not MailingList.objects.exists()


def test_a_bad_header_is_not_rescued_by_a_logged_in_session(owner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert post_list(client, authorization="Bearer pr_wrong").status_code == 401


def test_a_session_post_needs_its_csrf_token(owner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    refused = post_list(client)
    assert refused.status_code == 403
    assert set(refused.json()) == {"detail"}
    client.get("/lists/")  # the UI page sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    assert post_list(client, x_csrftoken=token).status_code == 201


def test_health_answers_listmonk_clients_without_a_credential(client, db):
    response = client.get("/api/health")
    assert response.status_code == 200
    assert response.json() == {"data": True}


def test_every_refusal_has_the_same_body_shape(client, secret):
    auth = {"authorization": f"Bearer {secret}"}
    answers = [
        client.get("/api/campaigns/999", headers=auth),  # 404 from the domain
        client.get("/api/campaigns/abc", headers=auth),  # 422 from the schema
        client.post("/api/campaigns/1/explode", headers=auth),  # 422: not an action
        client.post(
            "/api/lists", "{not json", content_type="application/json", headers=auth
        ),  # 400
        client.post("/api/lists", {"name": ""}, content_type="application/json", headers=auth),
        client.get("/api/no-such-thing", headers=auth),
    ]
    assert [a.status_code for a in answers] == [404, 422, 422, 400, 400, 404]
    for answer in answers:
        body = answer.json()
        assert isinstance(body["detail"], str) and body["detail"], body
        assert set(body) <= {"detail", "errors"}
    assert answers[1].json()["errors"][0]["loc"][-1] == "campaign_id"
    assert answers[1].json()["detail"].startswith("path.campaign_id:")


def test_the_schema_lists_every_error_answer_and_the_actions(client, db):
    schema = client.get("/api/openapi.json").json()
    paths = schema["paths"]
    assert "/api/health" in paths
    assert not paths["/api/health"]["get"].get("security")
    for path, operations in paths.items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            if operation.get("security"):
                assert {"401", "403"} <= codes, (method, path)
            if operation.get("parameters") or operation.get("requestBody"):
                assert {"400", "422"} <= codes, (method, path)
            if operation.get("parameters"):  # the web server's own answer to a long URL
                assert "text/html" in operation["responses"]["414"]["content"], (method, path)
            for code, answer in operation["responses"].items():
                if int(code) >= 400 and code != "414":
                    ref = answer["content"]["application/json"]["schema"]["$ref"]
                    assert ref == "#/components/schemas/ErrorOut"
    assert "404" in paths["/api/campaigns/{campaign_id}"]["get"]["responses"]
    action = next(
        p
        for p in paths["/api/campaigns/{campaign_id}/{action}"]["post"]["parameters"]
        if p["name"] == "action"
    )
    assert action["schema"]["enum"] == ["start", "pause", "resume", "cancel", "retry-failed"]
    security = schema["components"]["securitySchemes"]
    assert {s["scheme"] for s in security.values() if s["type"] == "http"} == {"bearer", "basic"}


def test_the_api_docs_load_only_local_assets(client, db):
    html = client.get("/api/docs").content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets)
    for asset in assets:
        assert asset.startswith("/static/"), asset
        assert client.get(asset).status_code == 200, asset


def test_a_tokens_last_use_is_noted_at_once_then_at_most_once_a_minute(client, owner, secret):
    token = ApiToken.objects.get()
    assert token.last_used_at is None
    client.get("/api/lists", headers={"authorization": f"Bearer {secret}"})
    token.refresh_from_db()
    first = token.last_used_at
    assert first is not None
    client.get("/api/lists", headers={"authorization": f"Bearer {secret}"})
    token.refresh_from_db()
    assert token.last_used_at == first  # within the minute: no write
    ApiToken.objects.update(last_used_at=first - timedelta(seconds=61))
    client.get("/api/lists", headers={"authorization": f"Bearer {secret}"})
    token.refresh_from_db()
    assert token.last_used_at >= first
