"""/api/campaigns/{id}/in-doubt and /resolve: what is known, then delivered or resend."""

import pytest

from postroom.api.models import ApiToken
from postroom.delivery.models import CampaignEvent, Delivery
from postroom.testing.smtpserver import CaptureServer
from tests.delivery.helpers import finished_with_doubt

pytestmark = pytest.mark.django_db(transaction=True)

DROPPED = ["user1@example.net", "user3@example.net", "user4@example.net"]


@pytest.fixture
def campaign():
    with CaptureServer(drop_data=dict.fromkeys(DROPPED, 1)) as server:
        yield finished_with_doubt(server, count=6)


@pytest.fixture
def api(client, owner):
    _, secret = ApiToken.issue(owner, "tests")
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    return client


def post(api, campaign, body):
    return api.post(f"/api/campaigns/{campaign.pk}/resolve", body, content_type="application/json")


def state(campaign, email):
    return Delivery.objects.get(campaign=campaign, email=email).state


def test_it_lists_the_rows_in_doubt_with_what_is_known_by_keyset(api, campaign):
    first = api.get(f"/api/campaigns/{campaign.pk}/in-doubt?limit=2").json()
    second = api.get(f"/api/campaigns/{campaign.pk}/in-doubt?limit=2&after={first['next']}").json()

    assert first["count"] == 3
    items = first["items"] + second["items"]
    assert sorted(r["email"] for r in items) == DROPPED
    assert [r["id"] for r in items] == sorted(r["id"] for r in items)  # ledger order
    row = first["items"][0]
    assert set(row) == {
        "id", "email", "subscriber_id", "attempts", "handed_at", "in_doubt_since", "worker",
        "sender", "error", "reply",
    }  # fmt: skip
    assert row["sender"] == "relay" and row["attempts"] == 1
    stored = Delivery.objects.get(pk=row["id"])
    assert row["error"] == stored.error != "" and row["in_doubt_since"]


def test_it_marks_chosen_rows_delivered_by_address_and_id(api, campaign):
    by_id = Delivery.objects.get(campaign=campaign, email=DROPPED[2]).pk

    response = post(api, campaign, {"outcome": "delivered", "emails": [DROPPED[0]], "ids": [by_id]})

    assert response.status_code == 200, response.content
    assert response.json() == {
        "id": campaign.pk, "status": "finished", "outcome": "delivered", "resolved": 2
    }  # fmt: skip
    assert [state(campaign, e) for e in DROPPED] == ["sent", "in_doubt", "sent"]
    marked = Delivery.objects.get(campaign=campaign, email=DROPPED[0])
    assert marked.error.startswith("marked delivered by owner (API) on ")


def test_it_resends_all_rows_in_doubt_and_the_campaign_runs_again(api, campaign):
    response = post(api, campaign, {"outcome": "resend", "all": True})

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "running" and response.json()["resolved"] == 3
    assert {state(campaign, e) for e in DROPPED} == {"pending"}
    event = CampaignEvent.objects.get(campaign=campaign, kind="resolved")
    assert event.message == "all 3 recipients in doubt resent by owner (API)"


def test_a_row_not_in_doubt_refuses_the_whole_call(api, campaign):
    response = post(
        api, campaign, {"outcome": "delivered", "emails": [DROPPED[0], "user0@example.net"]}
    )

    assert response.status_code == 400
    assert response.json()["detail"] == (
        f"user0@example.net is not in doubt in campaign {campaign.pk} (it is sent)"
    )
    assert state(campaign, DROPPED[0]) == "in_doubt"


def test_a_call_must_choose_rows_or_all_but_not_both(api, campaign):
    neither = post(api, campaign, {"outcome": "resend"})
    both = post(api, campaign, {"outcome": "resend", "all": True, "emails": [DROPPED[0]]})
    unknown = post(api, campaign, {"outcome": "forget", "all": True})
    missing = api.post("/api/campaigns/999/resolve", {"outcome": "resend", "all": True},
                       content_type="application/json")  # fmt: skip

    assert neither.status_code == both.status_code == 400
    assert "not both" in neither.json()["detail"]
    assert unknown.status_code == 422
    assert missing.status_code == 404 and missing.json()["detail"] == "campaign 999 does not exist"
    assert {state(campaign, e) for e in DROPPED} == {"in_doubt"}


def test_a_user_without_access_can_neither_list_nor_resolve(client, outsider, campaign):
    _, secret = ApiToken.issue(outsider, "nope")
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {secret}"

    assert client.get(f"/api/campaigns/{campaign.pk}/in-doubt").status_code == 401
    assert post(client, campaign, {"outcome": "delivered", "all": True}).status_code == 401
    client.defaults.pop("HTTP_AUTHORIZATION")
    client.force_login(outsider)  # a session of a non-staff user
    assert post(client, campaign, {"outcome": "delivered", "all": True}).status_code == 401
    assert {state(campaign, e) for e in DROPPED} == {"in_doubt"}


def test_both_endpoints_are_in_the_openapi_schema(client, db):
    schema = client.get("/api/openapi.json").json()
    paths = schema["paths"]

    assert "get" in paths["/api/campaigns/{campaign_id}/in-doubt"]
    resolve = paths["/api/campaigns/{campaign_id}/resolve"]["post"]
    body = resolve["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    fields = schema["components"]["schemas"][body.rsplit("/", 1)[1]]["properties"]
    assert set(fields) == {"outcome", "emails", "ids", "all"}
    assert fields["outcome"]["enum"] == ["delivered", "resend"]
