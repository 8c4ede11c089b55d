"""POST /api/public/subscription: Postroom's and listmonk's shapes, JSON and forms, the same
answer for every address, lists by uuid, origins, the captcha, custom fields, the per-IP limit."""

import json
import os
import subprocess
import sys

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from postroom.audience import services as audience
from postroom.audience.models import MailingList, Subscriber, Subscription
from postroom.delivery.models import OutboxMessage, Sender
from postroom.testing.smtpserver import CaptureServer
from postroom.tracking import signups
from postroom.tracking.models import SignupCount, SignupRequest
from tests.signups.helpers import SITE, post_json, solved_captcha


@pytest.fixture
def weekly(db) -> MailingList:
    return audience.create_list("Weekly", optin="single", public=True, allowed_origins=[SITE])


@pytest.fixture
def digest(db) -> MailingList:
    return audience.create_list("Digest", optin="double", public=True, allowed_origins=[SITE])


def subscribed(address: str, mailing_list: MailingList) -> str | None:
    return (
        Subscription.objects.filter(subscriber__email=address, mailing_list=mailing_list)
        .values_list("status", flat=True)
        .first()
    )


def test_postroom_s_json_shape_is_stored_then_carried_out_by_the_worker(client, weekly):
    weekly = audience.update_list(
        weekly, form_fields=[{"name": "plan", "type": "choice", "choices": ["free", "pro"]}]
    )
    response = post_json(
        client,
        {
            "email": " Zoe@Example.COM ",
            "name": "Zoe",
            "lists": [str(weekly.uuid)],
            "attributes": {"plan": "pro"},
        },
    )
    assert response.status_code == 200, response.content
    assert response.json() == {"data": True, "message": "Thank you for subscribing!"}
    assert not Subscriber.objects.exists()  # nothing but the request row, yet
    assert SignupRequest.objects.get().email == "zoe@example.com"

    assert signups.process_pending() == 1

    zoe = Subscriber.objects.get(email="zoe@example.com")
    assert (zoe.name, zoe.attributes) == ("Zoe", {"plan": "pro"})
    assert subscribed("zoe@example.com", weekly) == "confirmed"
    assert Subscription.objects.get().consent_source == "form"
    assert not SignupRequest.objects.exists()


def test_listmonk_s_list_uuids_shape_is_accepted(client, weekly, digest):
    body = {"email": "ann@example.com", "name": "Ann", "list_uuids": [str(weekly.uuid)]}
    assert post_json(client, body).status_code == 200
    signups.process_pending()
    assert subscribed("ann@example.com", weekly) == "confirmed"


def test_a_plain_form_post_is_answered_with_the_thanks_page(client, weekly, digest):
    response = client.post(
        "/api/public/subscription",
        {"email": "ann@example.com", "lists": [str(digest.uuid)], "l": str(weekly.uuid)},
        HTTP_ACCEPT="text/html,application/xhtml+xml",
        REMOTE_ADDR="203.0.113.7",
    )
    assert response.status_code == 200
    assert b"Check your inbox" in response.content
    signups.process_pending()
    assert subscribed("ann@example.com", weekly) == "confirmed"
    assert subscribed("ann@example.com", digest) == "unconfirmed"
    assert OutboxMessage.objects.count() == 1  # digest's confirmation


def test_a_form_post_asking_for_json_gets_json(client, weekly):
    response = client.post(
        "/api/public/subscription",
        {"email": "ann@example.com", "lists": str(weekly.uuid)},
        HTTP_ACCEPT="application/json",
    )
    assert response.json()["data"] is True


@pytest.mark.parametrize(
    ("lists", "status", "detail"),
    [
        ([], 400, "name at least one list"),
        (["not-a-uuid"], 400, "'not-a-uuid' is not a list uuid"),
        (["00000000-0000-0000-0000-000000000000"], 404, "no public list"),
    ],
)
def test_lists_must_be_public_lists_named_by_uuid(client, weekly, lists, status, detail):
    response = post_json(client, {"email": "a@example.com", "lists": lists})
    assert response.status_code == status
    assert detail in response.json()["detail"]
    assert not SignupRequest.objects.exists()


def test_a_private_list_cannot_be_joined(client, db):
    private = audience.create_list("Staff", public=False)
    response = post_json(client, {"email": "a@example.com", "lists": [str(private.uuid)]})
    assert response.status_code == 404
    assert not SignupRequest.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {"email": "ann@example.com;Ann;Lee"},
        {"email": 7},
        {"email": "ann@example.com", "attributes": {"plan": "pro"}},  # not a field of the form
        {"email": "ann@example.com", "attributes": []},
    ],
)
def test_bad_input_is_a_clear_400_and_stores_nothing(client, weekly, body):
    response = post_json(client, {**body, "lists": [str(weekly.uuid)]})
    assert response.status_code == 400
    assert set(response.json()) == {"detail"}
    assert not SignupRequest.objects.exists()


def test_a_body_that_is_neither_json_nor_a_form_is_refused(client, weekly):
    for body, content_type in (("{nope", "application/json"), ("x", "text/plain")):
        response = client.post("/api/public/subscription", body, content_type=content_type)
        assert response.status_code == 400
    assert not SignupRequest.objects.exists()


def test_custom_fields_are_checked_on_the_server(client, db):
    fields = [
        {"name": "plan", "label": "Plan", "type": "choice", "required": True,
         "choices": ["free", "pro"]},
        {"name": "seats", "type": "number"},
        {"name": "birthday", "type": "date"},
        {"name": "terms", "label": "I accept the terms", "type": "checkbox", "required": True},
    ]  # fmt: skip
    shop = audience.create_list("Shop", public=True, form_fields=fields)

    def attempt(**attributes):
        body = {"email": "a@example.com", "lists": [str(shop.uuid)], "attributes": attributes}
        return post_json(client, body)

    assert attempt(terms=True).json()["detail"] == "Plan: this field is required"
    assert attempt(plan="gold", terms=True).json()["detail"] == "Plan: choose one of free, pro"
    assert "not a number" in attempt(plan="pro", seats="many", terms=True).json()["detail"]
    assert "not a date" in attempt(plan="pro", birthday="31/12", terms=True).json()["detail"]
    assert attempt(plan="pro").json()["detail"] == "I accept the terms: this box must be ticked"
    assert not SignupRequest.objects.exists()

    assert attempt(plan="pro", seats="3", birthday="1990-05-04", terms="on").status_code == 200
    signups.process_pending()
    assert Subscriber.objects.get().attributes == {
        "plan": "pro",
        "seats": 3,
        "birthday": "1990-05-04",
        "terms": True,
    }


def _answer_and_queries(client, body: dict) -> tuple[bytes, int, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        response = post_json(client, body)
    shapes = [q["sql"].split(" WHERE ")[0].split(" VALUES ")[0] for q in queries.captured_queries]
    return response.content, response.status_code, shapes


def test_new_known_unsubscribed_and_blocklisted_addresses_get_the_same_answer_and_work(
    client, digest
):
    audience.add_subscriber("known@example.com", lists=[digest], preconfirmed=True)
    gone = audience.add_subscriber("gone@example.com", lists=[digest], preconfirmed=True)
    audience.unsubscribe(gone)
    blocked = audience.add_subscriber("blocked@example.com")
    audience.blocklist(Subscriber.objects.filter(pk=blocked.pk))
    # The first post of the hour from an IP creates its count, the others add to it.
    post_json(client, {"email": "first@example.com", "lists": [str(digest.uuid)]})
    answers = {
        address: _answer_and_queries(client, {"email": address, "lists": [str(digest.uuid)]})
        for address in (
            "new@example.com",
            "known@example.com",
            "gone@example.com",
            "blocked@example.com",
        )
    }
    first = answers["new@example.com"]
    assert first[1] == 200
    for address, answer in answers.items():
        # The same body and the same statements in the request: nothing in it depends on
        # who the address is, so neither does its time (it never waits on a mail server).
        assert answer == first, address
    assert not OutboxMessage.objects.exists()

    signups.process_pending()
    assert subscribed("new@example.com", digest) == "unconfirmed"
    assert subscribed("gone@example.com", digest) == "unconfirmed"  # mailed only after the click
    # first, new and gone get a link; known and blocked none.
    assert OutboxMessage.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_the_confirmation_email_leaves_from_the_worker_not_the_request(client):
    digest = audience.create_list("Digest", optin="double", public=True)
    with CaptureServer() as server:
        Sender.objects.create(
            name="relay", host=server.host, port=server.port, tls="none", envelope_from="b@x.org"
        )
        assert post_json(client, {"email": "zoe@example.com", "lists": [str(digest.uuid)]})
        assert server.messages == []
        signups.process_pending()
        received = server.wait_for(1)
    assert received[0].rcpt_to == ["zoe@example.com"]
    assert b"Confirm your subscription to Digest" in received[0].data


def test_the_honeypot_gets_the_same_answer_and_stores_nothing(client, weekly):
    for trap in ("website", "nonce"):
        body = {"email": "bot@example.com", "lists": [str(weekly.uuid)], trap: "http://spam"}
        response = post_json(client, body)
        assert response.json() == {"data": True, "message": "Thank you for subscribing!"}
    assert not SignupRequest.objects.exists()


def test_a_list_with_a_captcha_needs_a_solution_that_works_once(client, weekly):
    audience.update_list(weekly, captcha=True)
    body = {"email": "ann@example.com", "lists": [str(weekly.uuid)]}
    missing = post_json(client, body)
    assert missing.status_code == 400
    assert "solve the captcha" in missing.json()["detail"]
    forged = post_json(client, {**body, "altcha": "eyJub3QiOiAiaXQifQ=="})
    assert forged.status_code == 400

    solution = solved_captcha()
    assert post_json(client, {**body, "altcha": solution}).status_code == 200
    replayed = post_json(client, {**body, "altcha": solution})
    assert replayed.status_code == 400
    assert "used already" in replayed.json()["detail"]
    assert SignupRequest.objects.count() == 1


def test_the_captcha_challenge_is_public_and_in_altcha_s_shape(client, db):
    challenge = client.get("/api/public/captcha").json()
    assert set(challenge) == {"algorithm", "challenge", "maxnumber", "salt", "signature"}
    assert challenge["algorithm"] == "SHA-256"
    assert "expires=" in challenge["salt"]


def test_an_origin_the_list_does_not_allow_is_refused(client, weekly):
    body = {"email": "ann@example.com", "lists": [str(weekly.uuid)]}
    refused = post_json(client, body, origin="https://elsewhere.example")
    assert refused.status_code == 403
    assert "https://elsewhere.example may not sign people up" in refused.json()["detail"]
    assert "Access-Control-Allow-Origin" not in refused
    assert not SignupRequest.objects.exists()

    allowed = post_json(client, body, origin=SITE)
    assert allowed.status_code == 200
    assert allowed["Access-Control-Allow-Origin"] == SITE
    assert "Access-Control-Allow-Credentials" not in allowed
    assert post_json(client, body, origin="http://127.0.0.1:8000").status_code == 200  # own
    assert post_json(client, body).status_code == 200  # a server-side call has no origin


def test_a_site_allowed_by_one_list_cannot_post_to_another(client, weekly):
    other = audience.create_list("Other", public=True)
    body = {"email": "ann@example.com", "lists": [str(weekly.uuid), str(other.uuid)]}
    refused = post_json(client, body, origin=SITE)
    assert refused.status_code == 403
    assert refused["Access-Control-Allow-Origin"] == SITE  # so the page can show why


def test_a_preflight_is_answered_only_for_allowed_origins(client, weekly):
    def preflight(origin: str):
        return client.options(
            "/api/public/subscription",
            headers={
                "origin": origin,
                "access-control-request-method": "POST",
                "access-control-request-headers": "content-type",
            },
        )

    allowed = preflight(SITE)
    assert allowed.status_code == 204
    assert allowed["Access-Control-Allow-Origin"] == SITE
    assert "POST" in allowed["Access-Control-Allow-Methods"]
    assert "Content-Type" in allowed["Access-Control-Allow-Headers"]
    assert "Origin" in allowed["Vary"].split(", ")  # and Accept-Language, like every answer
    refused = preflight("https://elsewhere.example")
    assert "Access-Control-Allow-Origin" not in refused


def test_the_hourly_limit_per_network_is_kept_in_the_database(client, weekly, settings):
    settings.POSTROOM_SUBSCRIBE_LIMIT = 2
    body = {"email": "a@example.com", "lists": [str(weekly.uuid)]}
    assert post_json(client, body, ip="198.51.100.4").status_code == 200
    assert post_json(client, body, ip="198.51.100.4").status_code == 200
    limited = post_json(client, body, ip="198.51.100.4")
    assert limited.status_code == 429
    assert "try again in an hour" in limited.json()["detail"]
    assert SignupCount.objects.get(network="198.51.100.4").count == 3
    assert post_json(client, body, ip="198.51.100.5").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_another_process_counts_into_the_same_limit(client, subprocess_env, settings):
    settings.POSTROOM_SUBSCRIBE_LIMIT = 3
    weekly = audience.create_list("Weekly", public=True)
    code = (
        "import django; django.setup()\n"
        "from postroom.tracking.forms import over_limit\n"
        "print([over_limit('198.51.100.9') for _ in range(3)])\n"
    )
    env = {**subprocess_env, "DJANGO_SETTINGS_MODULE": "postroom.settings"}
    env["POSTROOM_SUBSCRIBE_LIMIT"] = "3"
    other = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60,
        cwd=os.getcwd(),
    )  # fmt: skip
    assert other.stdout.strip() == "[False, False, False]", other.stderr
    body = {"email": "a@example.com", "lists": [str(weekly.uuid)]}
    assert post_json(client, body, ip="198.51.100.9").status_code == 429


def test_a_failing_request_is_kept_for_another_try_then_given_up(client, weekly, monkeypatch):
    post_json(client, {"email": "a@example.com", "lists": [str(weekly.uuid)]})

    def broken(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(signups.confirmations, "request_subscription", broken)
    now = 1_000_000_000.0
    for attempt in range(signups.MAX_ATTEMPTS - 1):
        assert signups.process_pending(now=now + attempt * 1000) == 1
        assert SignupRequest.objects.get().attempts == attempt + 1
    assert signups.process_pending(now=now + 10**6) == 1
    assert not SignupRequest.objects.exists()


def test_the_api_schema_documents_the_public_endpoints(client, db):
    paths = client.get("/api/openapi.json").json()["paths"]
    operation = paths["/api/public/subscription"]["post"]
    assert not operation.get("security")
    assert {"200", "400", "403", "404", "422", "429"} <= set(operation["responses"])
    body = operation["requestBody"]["content"]
    assert {"application/json", "application/x-www-form-urlencoded"} <= set(body)
    assert "list_uuids" in json.dumps(body)
    assert "/api/public/captcha" in paths
