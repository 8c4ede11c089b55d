"""Per-list access: an editor or viewer granted some lists sees and mails only those,
in the UI, through the API and in what every route with an id lets them open."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.urls import URLPattern, URLResolver, get_resolver

from postroom.accounts import services as accounts
from postroom.accounts.access import WHOLE_AUDIENCE_ROUTES, access_for
from postroom.accounts.models import Role
from postroom.api.models import ApiToken
from postroom.audience import services as audience
from postroom.audience.models import MailingList, Segment, Subscriber
from postroom.campaigns import services as campaigns
from postroom.campaigns.models import Campaign
from postroom.errors import InvalidInput
from postroom.imports.models import Import

pytestmark = pytest.mark.django_db

ID_KWARGS = ("list_id", "subscriber_id", "campaign_id", "import_id")


@pytest.fixture
def world(make_user):
    """Two lists with a subscriber and a campaign each; `ed` granted only "Ours"."""
    ours = MailingList.objects.create(name="Ours")
    theirs = MailingList.objects.create(name="Theirs")
    ann, _ = audience.upsert_subscriber("ann@example.org", "Ann", [ours], source="admin")
    bob, _ = audience.upsert_subscriber("bob@example.org", "Bob", [theirs], source="admin")
    mine = campaigns.create_campaign(
        lists=[ours], name="Ours news", subject="Hi", body="Hello", from_email="a@example.org"
    )
    other = campaigns.create_campaign(
        lists=[theirs], name="Theirs news", subject="Hi", body="Hello", from_email="a@example.org"
    )
    imp = Import.objects.create(file_name="theirs.csv", file_path="/nonexistent")
    imp.lists.set([theirs])
    make_user("ed", Role.EDITOR)
    accounts.set_lists("ed", ["Ours"])
    return {
        "ours": ours, "theirs": theirs, "ann": ann, "bob": bob,
        "mine": mine, "other": other, "import": imp,
    }  # fmt: skip


def _login(client, username="ed"):
    assert client.login(username=username, password="a long test passphrase")
    return client


def test_the_grant_is_what_access_reads_and_owners_and_admins_are_never_narrowed(world, make_user):
    user = get_user_model().objects.get(username="ed")
    assert access_for(user).list_ids == {world["ours"].pk}
    make_user("ada", Role.ADMIN)
    with pytest.raises(InvalidInput, match="owners and admins see every list"):
        accounts.set_lists("ada", ["Ours"])
    with pytest.raises(InvalidInput, match="no list named 'Nope'"):
        accounts.set_lists("ed", ["Ours", "Nope"])
    assert access_for(user).list_ids == {world["ours"].pk}  # the refused change changed nothing
    accounts.set_lists("ed", [])
    assert not access_for(user).restricted


def test_indexes_show_only_the_granted_lists_people_and_campaigns(client, world):
    _login(client)
    lists = client.get("/lists/").content.decode()
    assert "Ours" in lists and "Theirs" not in lists
    people = client.get("/subscribers/").content.decode()
    assert "ann@example.org" in people and "bob@example.org" not in people
    found = client.get("/subscribers/?q=bob@").content.decode()
    assert "bob@example.org" not in found
    news = client.get("/campaigns/").content.decode()
    assert "Ours news" in news and "Theirs news" not in news
    assert "theirs.csv" not in client.get("/imports/").content.decode()


def test_every_route_naming_an_object_outside_the_grant_answers_404(client, world):
    """Walks every admin route with an id in it, with the ids of the other list's objects."""
    _login(client)
    outside = {
        "list_id": world["theirs"].pk,
        "subscriber_id": world["bob"].pk,
        "campaign_id": world["other"].pk,
        "import_id": world["import"].pk,
    }
    walked = 0

    def walk(patterns, prefix=""):
        nonlocal walked
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern) and p.name:
                route = prefix + str(p.pattern)
                names = re.findall(r"<int:([a-z_]+)>", route)
                if not names or not set(names) <= set(ID_KWARGS) or route.startswith("api"):
                    continue
                for name in names:
                    route = route.replace(f"<int:{name}>", str(outside[name]))
                for method in (client.get, client.post):
                    answer = method("/" + route)
                    assert answer.status_code in (404, 405), (p.name, method, answer.status_code)
                walked += 1

    walk(get_resolver().url_patterns)
    assert walked >= 20  # lists, subscribers, campaigns and imports all have several


def test_pages_of_the_whole_audience_are_refused_with_the_reason(client, world):
    _login(client)
    for path in ("/segments/", "/outbox/", "/bounces/", "/export/"):
        answer = client.get(path)
        assert answer.status_code == 403, path
        assert "limited to some lists" in answer.content.decode()
    assert {"segments", "outbox", "bounces", "export"} <= WHOLE_AUDIENCE_ROUTES


def test_a_campaign_to_another_list_or_a_segment_alone_is_refused_and_nothing_is_saved(
    client, world
):
    _login(client)
    segment = Segment.objects.create(name="Everyone", definition={"all": []})
    before = Campaign.objects.count()
    form = {
        "name": "Sneaky", "subject": "Hi", "from_email": "a@example.org", "body": "x",
        "body_format": "markdown", "priority": 1, "in_doubt_policy": "hold",
        "lists": [world["theirs"].pk],
    }  # fmt: skip
    answer = client.post("/campaigns/new/", form)
    # The other list is not even a choice: the form refuses it as an unknown one.
    assert "Select a valid choice" in answer.content.decode()
    answer = client.post("/campaigns/new/", {**form, "lists": [], "segment": segment.pk})
    assert answer.status_code == 400
    assert "choose at least one of your lists" in answer.content.decode()
    assert Campaign.objects.count() == before
    answer = client.post("/campaigns/new/", {**form, "lists": [world["ours"].pk]})
    assert answer.status_code == 302
    assert Campaign.objects.count() == before + 1


def test_whole_person_actions_and_new_lists_need_an_unrestricted_user(client, world):
    _login(client)
    ann = world["ann"]
    assert client.post(f"/subscribers/{ann.pk}/erase/").status_code == 403
    assert client.post(f"/subscribers/{ann.pk}/status/", {"action": "blocklist"}).status_code == 403
    assert client.post("/lists/", {"name": "Mine too", "optin": "single"}).status_code == 403
    ann.refresh_from_db()
    assert ann.status == Subscriber.Status.ACTIVE
    assert not MailingList.objects.filter(name="Mine too").exists()


def test_the_api_applies_the_users_grant_and_a_token_only_narrows_it(client, world):
    ed = get_user_model().objects.get(username="ed")
    _, secret = ApiToken.issue(ed, "ed's script")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    names = {row["name"] for row in client.get("/api/lists", **auth).json()}
    assert names == {"Ours"}
    assert client.get(f"/api/subscribers/{world['bob'].pk}", **auth).status_code == 404
    assert client.get(f"/api/subscribers/{world['ann'].pk}", **auth).status_code == 200


def test_adding_someone_elses_subscriber_to_a_granted_list_leaves_their_data_alone(client, world):
    _login(client)
    answer = client.post(
        "/subscribers/new/",
        {"email": "bob@example.org", "name": "Mallory", "lists": [world["ours"].pk],
         "attributes": '{"plan": "none"}'},
        follow=True,
    )  # fmt: skip
    bob = Subscriber.objects.get(email="bob@example.org")
    assert bob.name == "Bob" and bob.attributes == {}
    assert bob.subscriptions.filter(mailing_list=world["ours"]).exists()
    assert "name and fields unchanged" in answer.content.decode()
