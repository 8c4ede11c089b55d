"""Tokens narrowed to scopes (read, subscribers, send) and to lists: each does only what it
is narrowed to, and never more than its user's role allows at the time of the call."""

import json

import pytest

from postroom.accounts import services as accounts
from postroom.accounts.models import Role
from postroom.api.models import ApiToken
from postroom.audience import services as audience
from postroom.audience.models import MailingList, Subscriber
from postroom.campaigns.models import Campaign
from tests.api.conftest import refused

pytestmark = pytest.mark.django_db


@pytest.fixture
def lists(db):
    news, offers = audience.create_list("news"), audience.create_list("offers")
    audience.add_subscriber("ada@example.com", "Ada", ["news"])
    audience.add_subscriber("bob@example.com", "Bob", ["offers"])
    return news, offers


def campaign_body(**fields):
    return {"name": "c", "subject": "s", "body": "b", "lists": ["news"], **fields}


def test_a_read_only_token_reads_and_changes_nothing(token_for, lists):
    api = token_for(Role.OWNER, scopes=["read"])

    assert api.get("/api/subscribers").status_code == 200
    assert api.get("/api/campaigns").status_code == 200
    for answer in (
        api.post("/api/lists", {"name": "more"}),
        api.patch("/api/subscribers/ada@example.com", {"name": "Changed"}),
        api.delete("/api/subscribers/bob@example.com"),
    ):
        assert refused(answer, 403) == "This token is read-only."
    assert MailingList.objects.count() == 2 and Subscriber.objects.count() == 2
    assert Subscriber.objects.get(email="ada@example.com").name == "Ada"


def test_a_subscribers_token_manages_the_audience_and_nothing_else(token_for, lists):
    api = token_for(Role.OWNER, scopes=["subscribers"])

    added = api.post("/api/subscribers", {"email": "cy@example.com", "lists": ["news"]})
    reads = [api.get("/api/lists"), api.get("/api/segments")]
    campaign = api.post("/api/campaigns", campaign_body())
    sender = api.post("/api/senders", {"name": "x", "host": "h", "port": 25})

    assert added.status_code == 201
    assert [r.status_code for r in reads] == [200, 200]
    assert refused(campaign, 403) == "This token is for subscribers only."
    refused(sender, 403)
    assert refused(api.get("/api/campaigns"), 403) == "This token is for subscribers only."
    assert not Campaign.objects.exists()


def test_a_send_token_mails_but_does_not_read_the_audience(token_for, lists):
    api = token_for(Role.OWNER, scopes=["send"])

    made = api.post("/api/campaigns", campaign_body())
    started = api.post(f"/api/campaigns/{made.json()['id']}/start")

    assert made.status_code == 201 and started.json()["status"] == "running"
    assert api.get("/api/lists").status_code == 200
    assert "for send only" in refused(api.get("/api/subscribers"), 403)
    assert "for send only" in refused(api.delete("/api/subscribers/ada@example.com"), 403)
    assert Subscriber.objects.count() == 2


def test_a_token_for_some_lists_sees_and_mails_only_those(token_for, lists):
    news, offers = lists
    api = token_for(Role.OWNER, lists=[news])
    audience.save_segment("everyone", {"all": []})

    seen = api.get("/api/subscribers").json()
    other = api.get("/api/subscribers/bob@example.com")
    add_elsewhere = api.post("/api/subscribers", {"email": "cy@example.com", "lists": ["offers"]})
    add_nowhere = api.post("/api/subscribers", {"email": "cy@example.com"})
    join_elsewhere = api.post("/api/subscribers/ada@example.com/lists", {"lists": ["offers"]})
    mail_elsewhere = api.post("/api/campaigns", campaign_body(lists=["offers"]))
    mail_segment = api.post("/api/campaigns", campaign_body(lists=[], segment="everyone"))
    bulk = api.post("/api/subscribers/bulk", {"action": "blocklist", "filter": {}})
    mailed = api.post("/api/campaigns", campaign_body())

    assert [s["email"] for s in seen["items"]] == ["ada@example.com"]
    assert refused(other, 404) == "no subscriber 'bob@example.com'"
    assert [ml["name"] for ml in api.get("/api/lists").json()] == ["news"]
    assert refused(add_elsewhere, 403) == "you may not use the list 'offers'"
    refused(add_nowhere, 403)
    refused(join_elsewhere, 403)
    refused(mail_elsewhere, 403)
    assert "must name the lists" in refused(mail_segment, 403)
    assert bulk.json() == {"changed": 1}  # Ada only
    assert Subscriber.objects.get(email="bob@example.com").status == "active"
    assert not Subscriber.objects.filter(email="cy@example.com").exists()
    assert mailed.status_code == 201
    assert [c["id"] for c in api.get("/api/campaigns").json()] == [mailed.json()["id"]]
    assert refused(api.get(f"/api/lists/{offers.pk}"), 404)


def test_a_token_for_some_lists_adds_someone_elses_subscriber_without_changing_them(
    token_for, lists
):
    news, _ = lists
    audience.add_subscriber("bob@example.com", "Bob", ["offers"], attributes={"plan": "gold"})
    api = token_for(Role.OWNER, lists=[news])

    added = api.post(
        "/api/subscribers",
        {"email": "bob@example.com", "name": "Mallory", "attributes": {"plan": "none"},
         "lists": ["news"], "preconfirmed": True},
    )  # fmt: skip
    mine = api.post(
        "/api/subscribers", {"email": "ada@example.com", "name": "Ada L.", "lists": ["news"]}
    )

    assert added.status_code == 201
    bob = Subscriber.objects.get(email="bob@example.com")
    assert (bob.name, bob.attributes) == ("Bob", {"plan": "gold"})
    assert bob.subscriptions.filter(mailing_list=news).exists()  # the add itself is allowed
    assert mine.status_code == 201  # their own list's person is updated as before
    assert Subscriber.objects.get(email="ada@example.com").name == "Ada L."


def test_a_token_never_exceeds_its_users_role(token_for, lists):
    viewer = token_for(Role.VIEWER, scopes=["subscribers"])
    editor = token_for(Role.EDITOR)

    assert "needs Editor" in refused(
        viewer.post("/api/subscribers", {"email": "x@example.com"}), 403
    )
    assert "needs Admin" in refused(editor.post("/api/senders", {"name": "s", "host": "h"}), 403)
    assert "needs Admin" in refused(editor.get("/api/webhooks"), 403)
    assert editor.patch("/api/subscribers/ada@example.com", {"name": "A"}).status_code == 200

    accounts.set_role(editor.user.username, Role.VIEWER)  # demoted: the same token, at once

    assert "needs Editor" in refused(editor.patch("/api/subscribers/ada@example.com", {}), 403)
    assert Subscriber.objects.get(email="ada@example.com").name == "A"
    assert editor.get("/api/subscribers").status_code == 200


def test_the_cli_creates_narrowed_tokens_and_refuses_unknown_scopes(run_cli, subprocess_env, owner):
    audience.create_list("news")

    made = run_cli("token", "create", "--user", "owner", "--name", "shop", "--scope", "read",
                   "--list", "news", "--json", env=subprocess_env)  # fmt: skip
    bad = run_cli("token", "create", "--user", "owner", "--name", "x", "--scope", "all",
                  env=subprocess_env)  # fmt: skip
    listed = run_cli("token", "list", "--json", env=subprocess_env)

    assert made.returncode == 0, made.stderr
    body = json.loads(made.stdout)
    assert body["token"].startswith("pr_") and (body["scopes"], body["lists"]) == (
        ["read"],
        ["news"],
    )
    assert bad.returncode != 0 and "unknown scope 'all'" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    assert [t["name"] for t in json.loads(listed.stdout)] == ["shop"]
    token = ApiToken.objects.get()
    assert token.scopes == ["read"] and list(token.lists.values_list("name", flat=True)) == ["news"]
