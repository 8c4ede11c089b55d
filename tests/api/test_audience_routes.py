"""/api/subscribers, /api/lists, /api/segments: every change the UI makes, through the same
services; a bad request is a specific 4xx in the one error shape and changes nothing; each
role and each narrowed token does only what it may."""

import pytest

from postroom.accounts.models import Role
from postroom.audience import services
from postroom.audience.models import MailingList, Segment, Subscriber, Subscription, Suppression
from tests.api.conftest import refused

pytestmark = pytest.mark.django_db


@pytest.fixture
def news(db) -> MailingList:
    return services.create_list("news")


def add(api, email: str, **fields):
    response = api.post("/api/subscribers", {"email": email, **fields})
    assert response.status_code == 201, response.content
    return response.json()


def test_it_updates_a_subscribers_name_attributes_and_tags_by_address_or_id(api, news):
    ada = add(api, "ada@example.com", name="Ada", lists=["news"], attributes={"city": "Paris"})

    changed = api.patch(
        "/api/subscribers/ADA@example.com",
        {"name": "Ada L.", "attributes": {"plan": "pro"}, "tags": ["vip", "vip", "beta"]},
    )

    assert changed.status_code == 200, changed.content
    assert changed.json()["name"] == "Ada L."
    assert changed.json()["attributes"] == {"plan": "pro"}  # replaced whole
    assert changed.json()["tags"] == ["beta", "vip"]
    by_id = api.get(f"/api/subscribers/{ada['id']}").json()
    assert by_id["email"] == "ada@example.com" and by_id["tags"] == ["beta", "vip"]


def test_a_bad_change_is_refused_and_changes_nothing(api, news):
    add(api, "ada@example.com", name="Ada", attributes={"city": "Paris"})

    too_long = api.patch("/api/subscribers/ada@example.com", {"name": "x" * 300, "tags": ["t"]})
    wrong_type = api.patch("/api/subscribers/ada@example.com", {"attributes": ["not", "a dict"]})
    missing = api.patch("/api/subscribers/nobody@example.com", {"name": "N"})

    assert "at most 255" in refused(too_long, 400)
    assert refused(wrong_type, 422).startswith("attributes:")
    assert refused(missing, 404) == "no subscriber 'nobody@example.com'"
    ada = Subscriber.objects.get(email="ada@example.com")
    assert (ada.name, ada.attributes, ada.tags.count()) == ("Ada", {"city": "Paris"}, 0)


def test_it_joins_and_leaves_lists(api, news):
    services.create_list("offers", optin="double")
    add(api, "ada@example.com")

    joined = api.post("/api/subscribers/ada@example.com/lists", {"lists": ["news", "offers"]})
    left = api.post("/api/subscribers/ada@example.com/unsubscribe", {"lists": ["news"]})

    assert joined.status_code == 200, joined.content
    statuses = {s["list"]: s["status"] for s in joined.json()["subscriptions"]}
    assert statuses == {"news": "confirmed", "offers": "unconfirmed"}
    assert left.json() == {"changed": 1}
    rows = Subscription.objects.filter(subscriber__email="ada@example.com")
    assert dict(rows.values_list("mailing_list__name", "status")) == {
        "news": "unsubscribed", "offers": "unconfirmed"
    }  # fmt: skip


def test_a_suppressed_address_cannot_join_a_list(api, news):
    add(api, "ada@example.com")
    api.post("/api/subscribers/ada@example.com/unsubscribe", {"lists": None})

    response = api.post("/api/subscribers/ada@example.com/lists", {"lists": ["news"]})

    assert "suppressed" in refused(response, 400)
    assert not Subscription.objects.filter(mailing_list=news).exists()


def test_it_blocklists_and_makes_active_again(api, news):
    add(api, "ada@example.com", lists=["news"])

    blocked = api.put("/api/subscribers/ada@example.com/status", {"status": "blocklisted"})
    assert blocked.json()["status"] == "blocklisted"
    assert Suppression.objects.filter(reason="blocklisted").count() == 1
    active = api.put("/api/subscribers/ada@example.com/status", {"status": "active"})
    assert active.json()["status"] == "active"
    assert not Suppression.objects.exists()
    assert refused(api.put("/api/subscribers/ada@example.com/status", {"status": "x"}), 422)


def test_it_filters_and_pages_subscribers_by_keyset(api, news):
    for n in range(5):
        add(api, f"p{n}@example.com", lists=["news"] if n % 2 == 0 else [])
    api.patch("/api/subscribers/p4@example.com", {"tags": ["vip"]})

    first = api.get("/api/subscribers", {"list": "news", "limit": 2}).json()
    second = api.get("/api/subscribers", {"list": "news", "limit": 2, "after": first["next"]})
    tagged = api.get("/api/subscribers", {"tag": "vip"}).json()
    searched = api.get("/api/subscribers", {"q": "p3@"}).json()

    emails = [s["email"] for s in first["items"] + second.json()["items"]]
    assert emails == ["p0@example.com", "p2@example.com", "p4@example.com"]
    assert second.json()["next"] is None
    assert [s["email"] for s in tagged["items"]] == ["p4@example.com"]
    assert [s["email"] for s in searched["items"]] == ["p3@example.com"]
    assert refused(api.get("/api/subscribers", {"list": "nope"}), 404) == "no list named 'nope'"
    assert refused(api.get("/api/subscribers", {"limit": 0}), 422).startswith("query.limit")


def test_bulk_actions_run_over_ids_or_a_filter(api, news):
    ids = [add(api, f"b{n}@example.com")["id"] for n in range(4)]

    tagged = api.post("/api/subscribers/bulk", {"action": "tag", "ids": ids[:3], "tag": "x"})
    joined = api.post(
        "/api/subscribers/bulk", {"action": "add_to_list", "filter": {"tag": "x"}, "list": "news"}
    )
    erased = api.post("/api/subscribers/bulk", {"action": "delete", "ids": [ids[3]]})

    assert [r.json() for r in (tagged, joined, erased)] == [
        {"changed": 3}, {"changed": 3}, {"changed": 1}
    ]  # fmt: skip
    assert news.subscriptions.count() == 3
    assert not Subscriber.objects.filter(pk=ids[3]).exists()


def test_a_bad_bulk_request_changes_nothing(api, news):
    ids = [add(api, f"b{n}@example.com")["id"] for n in range(2)]

    both = api.post("/api/subscribers/bulk", {"action": "blocklist", "ids": ids, "filter": {}})
    no_list = api.post("/api/subscribers/bulk", {"action": "add_to_list", "ids": ids})
    no_tag = api.post("/api/subscribers/bulk", {"action": "tag", "ids": ids, "tag": " "})
    unknown = api.post("/api/subscribers/bulk", {"action": "explode", "ids": ids})

    assert "not both" in refused(both, 400)
    assert "needs `list`" in refused(no_list, 400)
    assert "needs `tag`" in refused(no_tag, 400)
    refused(unknown, 422)
    assert not Subscriber.objects.filter(status="blocklisted").exists()
    assert not news.subscriptions.exists()


def test_erasure_keeps_only_a_hash_of_who_withdrew(api, news):
    add(api, "ada@example.com", lists=["news"])
    api.post("/api/subscribers/ada@example.com/unsubscribe", {"lists": ["news"]})

    assert api.delete("/api/subscribers/ada@example.com").status_code == 204
    assert not Subscriber.objects.exists()
    assert Suppression.objects.filter(reason="unsubscribed").count() == 1
    assert refused(api.delete("/api/subscribers/ada@example.com"), 404)


def test_the_data_export_holds_the_profile_and_consent(api, news):
    add(api, "ada@example.com", name="Ada", lists=["news"], attributes={"city": "Paris"})

    export = api.get("/api/subscribers/ada@example.com/export")

    assert export.status_code == 200
    body = export.json()
    assert set(body) == {"profile", "messages", "engagement", "bounces", "unsubscribes"}
    assert body["profile"]["attributes"] == {"city": "Paris"}
    assert body["profile"]["subscriptions"][0]["consent_source"] == "api"


def test_lists_are_read_changed_and_deleted_keeping_subscribers(api, news):
    add(api, "ada@example.com", lists=["news"])

    one = api.get(f"/api/lists/{news.pk}").json()
    renamed = api.patch(f"/api/lists/{news.pk}", {"name": "weekly"})
    taken = api.post("/api/lists", {"name": "weekly"})
    gone = api.delete(f"/api/lists/{news.pk}")

    assert one["name"] == "news" and one["counts"]["confirmed"] == 1
    assert renamed.json()["name"] == "weekly"
    assert "already exists" in refused(taken, 400)
    assert gone.status_code == 204
    assert not MailingList.objects.exists() and Subscriber.objects.count() == 1
    assert refused(api.get(f"/api/lists/{news.pk}"), 404) == f"no list with id {news.pk}"
    refused(api.get("/api/lists/99999999999999999999"), 422)


def test_segments_are_saved_with_a_live_count(api, news):
    add(api, "ada@example.com", lists=["news"])
    add(api, "bob@example.com")
    in_news = {"all": [{"field": "list", "op": "in", "value": ["news"]}]}

    count = api.post("/api/segments/count", {"definition": in_news}).json()
    made = api.post("/api/segments", {"name": "readers", "definition": in_news})
    add(api, "cy@example.com", lists=["news"])
    again = api.get(f"/api/segments/{made.json()['id']}").json()
    changed = api.patch(f"/api/segments/{again['id']}", {"definition": {"all": []}}).json()

    assert count["count"] == 1 and count["summary"]
    assert made.status_code == 201 and made.json()["count"] == 1
    assert again["count"] == 2  # live: counted at each call
    assert changed["count"] == 3 and changed["name"] == "readers"
    assert api.delete(f"/api/segments/{again['id']}").status_code == 204


def test_a_bad_segment_is_refused_with_the_reason(api, news):
    bad = {"all": [{"field": "tag", "op": "in", "value": ["nope"]}]}

    counted = api.post("/api/segments/count", {"definition": bad})
    saved = api.post("/api/segments", {"name": "s", "definition": bad})

    assert "unknown tag 'nope'" in refused(counted, 400)
    assert "unknown tag 'nope'" in refused(saved, 400)
    assert not Segment.objects.exists()


def test_a_segment_used_by_a_campaign_cannot_be_deleted(api, news):
    from postroom.campaigns import services as campaigns

    segment = services.save_segment("readers", {"all": []})
    campaigns.create_campaign(name="c", subject="s", body="b", segment=segment)

    assert "campaigns use this segment" in refused(api.delete(f"/api/segments/{segment.pk}"), 409)
    assert Segment.objects.filter(pk=segment.pk).exists()


@pytest.mark.parametrize("role", [Role.VIEWER, Role.EDITOR, Role.ADMIN, Role.OWNER])
def test_a_viewer_reads_and_an_editor_may_change_the_audience(token_for, news, role):
    api = token_for(role)
    services.add_subscriber("ada@example.com", lists=["news"])
    reads = [
        api.get("/api/subscribers"),
        api.get("/api/subscribers/ada@example.com"),
        api.get("/api/lists"),
        api.get("/api/segments"),
    ]
    writes = [
        api.patch("/api/subscribers/ada@example.com", {"name": "Changed"}),
        api.post("/api/lists", {"name": "more"}),
        api.post("/api/segments", {"name": "s", "definition": {"all": []}}),
    ]
    export = api.get("/api/subscribers/ada@example.com/export")

    assert [r.status_code for r in reads] == [200] * 4
    if role == Role.VIEWER:
        for response in [*writes, export]:
            assert "needs Editor" in refused(response, 403)
        assert Subscriber.objects.get().name == "" and MailingList.objects.count() == 1
    else:
        assert [r.status_code for r in writes] == [200, 201, 201]
        assert export.status_code == 200


def test_a_body_that_is_not_a_json_object_is_refused(api, news):
    add(api, "ada@example.com", name="Ada")

    answer = api.patch("/api/subscribers/ada@example.com", [None, None])

    assert refused(answer, 400).startswith("the body must be a JSON object")
    assert Subscriber.objects.get().name == "Ada"


def test_a_bulk_action_over_no_ids_changes_nothing_and_says_so(api):
    """Found by the schema fuzzer: `ids: []` made Django write no SQL for the INSERT…SELECT."""
    for action in ("delete", "blocklist", "tag"):
        answer = api.post("/api/subscribers/bulk", {"action": action, "ids": [], "tag": "x"})
        assert answer.status_code == 200, answer.content
        assert answer.json() == {"changed": 0}


def test_text_with_a_nul_character_is_refused_before_it_reaches_the_database(api):
    """Found by the schema fuzzer on PostgreSQL, which cannot store U+0000 in text."""
    answer = api.post("/api/subscribers", {"email": "nul@example.org", "tags": ["a\u0000b"]})
    assert answer.status_code == 400, answer.content
    assert "NUL" in answer.json()["detail"]
    assert api.get("/api/subscribers/nul@example.org").status_code == 404
