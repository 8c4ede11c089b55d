"""The audience screens: access, search, filters, pages, bulk actions, lists, segment builder."""

import pytest
from django.urls import reverse

from postroom.audience import services
from postroom.audience.models import MailingList, Segment, Subscriber, Subscription, Tag

pytestmark = pytest.mark.django_db

PAGES = [
    ("subscribers", {}),
    ("subscriber_new", {}),
    ("subscriber_detail", {"subscriber_id": 1}),
    ("subscriber_erase", {"subscriber_id": 1}),
    ("lists", {}),
    ("list_detail", {"list_id": 1}),
    ("list_delete", {"list_id": 1}),
    ("segments", {}),
    ("segment_new", {}),
    ("segment_edit", {"segment_id": 1}),
    ("segment_row_count", {"segment_id": 1}),
    ("segment_delete", {"segment_id": 1}),
]
ACTIONS = [
    ("subscribers_bulk", {}),
    ("subscriber_subscriptions", {"subscriber_id": 1}),
    ("subscriber_status", {"subscriber_id": 1}),
    ("subscriber_erase", {"subscriber_id": 1}),
    ("segment_count", {}),
    ("list_delete", {"list_id": 1}),
    ("segment_delete", {"segment_id": 1}),
]


@pytest.fixture
def data():
    news = services.create_list("news")
    services.create_list("other", optin="double")
    ann = services.add_subscriber("ann@example.com", "Ann Lee", ["news"], attributes={"n": 1})
    services.add_subscriber("bob@example.org", "Bob", ["news", "other"], attributes={"n": 5})
    services.add_subscriber("cy@example.net", "Cy")
    segment = services.save_segment("big", {"field": "attributes.n", "op": "gt", "value": 2})
    return {"news": news, "ann": ann, "segment": segment}


def _url(name, kwargs, data):
    ids = {"subscriber_id": data["ann"].pk, "list_id": data["news"].pk}
    ids["segment_id"] = data["segment"].pk
    return reverse(name, kwargs={k: ids[k] for k in kwargs})


@pytest.mark.parametrize("name, kwargs", PAGES)
def test_anonymous_users_are_sent_to_login_from_every_page(client, data, name, kwargs):
    response = client.get(_url(name, kwargs, data))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("name, kwargs", ACTIONS)
def test_anonymous_users_cannot_run_any_action(client, data, name, kwargs):
    post = {"action": "delete", "scope": "all", "confirm": "1"}
    response = client.post(_url(name, kwargs, data), post)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert Subscriber.objects.count() == 3
    assert MailingList.objects.count() == 2
    assert Segment.objects.count() == 1


@pytest.mark.parametrize("name, kwargs", PAGES + ACTIONS)
def test_an_outsider_is_refused_everywhere(client, outsider, data, name, kwargs):
    client.force_login(outsider)
    url = _url(name, kwargs, data)
    assert client.get(url).status_code in (403, 405)
    assert client.post(url, {"action": "delete", "scope": "all", "confirm": "1"}).status_code == 403
    assert Subscriber.objects.count() == 3


@pytest.mark.parametrize("name, kwargs", PAGES)
def test_every_page_renders_for_an_operator(owner_client, data, name, kwargs):
    assert owner_client.get(_url(name, kwargs, data)).status_code == 200


def test_search_finds_by_email_or_name(owner_client, data):
    body = owner_client.get(reverse("subscribers"), {"q": "lee"}).content.decode()
    assert "ann@example.com" in body and "bob@example.org" not in body
    body = owner_client.get(reverse("subscribers"), {"q": "bob@"}).content.decode()
    assert "bob@example.org" in body and "ann@example.com" not in body


def test_filters_by_list_status_tag_and_segment(owner_client, data):
    services.set_tags(data["ann"], ["vip"])
    url = reverse("subscribers")
    body = owner_client.get(url, {"list": data["news"].pk}).content.decode()
    assert "ann@example.com" in body and "cy@example.net" not in body
    body = owner_client.get(url, {"tag": "vip"}).content.decode()
    assert "ann@example.com" in body and "bob@example.org" not in body
    body = owner_client.get(url, {"segment": data["segment"].pk}).content.decode()
    assert "bob@example.org" in body and "ann@example.com" not in body
    services.blocklist(Subscriber.objects.filter(email="cy@example.net"))
    body = owner_client.get(url, {"status": "blocklisted"}).content.decode()
    assert "cy@example.net" in body and "ann@example.com" not in body


def test_pages_follow_the_sort_order_without_gaps_or_repeats(owner_client, data, monkeypatch):
    from postroom.audience import browse

    monkeypatch.setattr(browse, "PAGE_SIZE", 2)
    for n in range(5):
        services.add_subscriber(f"p{n}@example.com", name="same")
    seen = []
    params = {"sort": "name"}
    while True:
        response = owner_client.get(reverse("subscribers"), params)
        page = response.context["page"]
        seen += [s.email for s in page.rows]
        if not page.next_cursor:
            break
        params = {"sort": "name", "after": page.next_cursor}
    expected = list(Subscriber.objects.order_by("name", "id").values_list("email", flat=True))
    assert seen == expected


def test_a_broken_page_link_says_so(owner_client, data):
    response = owner_client.get(reverse("subscribers"), {"after": "garbage"}, follow=True)
    assert "page link is broken" in response.content.decode()


def test_a_bulk_action_asks_for_confirmation_first(owner_client, data):
    url = reverse("subscribers_bulk")
    post = {"action": "tag", "tag_name": "vip", "scope": "all", "list": data["news"].pk}
    response = owner_client.post(url, post)
    assert response.status_code == 200
    assert "2 subscribers" in response.content.decode()
    assert not Tag.objects.exists()
    owner_client.post(url, {**post, "confirm": "1"})
    assert set(Subscriber.objects.filter(tags__name="vip").values_list("email", flat=True)) == {
        "ann@example.com",
        "bob@example.org",
    }


def test_bulk_actions_on_a_selection(owner_client, data):
    url = reverse("subscribers_bulk")
    cy = Subscriber.objects.get(email="cy@example.net")
    other = MailingList.objects.get(name="other")
    post = {"scope": "selected", "ids": [cy.pk], "confirm": "1"}
    owner_client.post(url, {**post, "action": "add_to_list", "target_list": other.pk})
    assert Subscription.objects.get(subscriber=cy, mailing_list=other).status == "unconfirmed"
    owner_client.post(url, {**post, "action": "blocklist"})
    cy.refresh_from_db()
    assert cy.status == "blocklisted"
    owner_client.post(url, {**post, "action": "delete"})
    assert not Subscriber.objects.filter(email="cy@example.net").exists()
    assert Subscriber.objects.count() == 2


def test_a_bulk_action_without_a_selection_changes_nothing(owner_client, data):
    url = reverse("subscribers_bulk")
    response = owner_client.post(
        url, {"action": "delete", "scope": "selected", "confirm": "1"}, follow=True
    )
    assert "Select some subscribers" in response.content.decode()
    response = owner_client.post(url, {"action": "add_to_list", "scope": "all", "confirm": "1"})
    assert Subscriber.objects.count() == 3
    assert Subscription.objects.count() == 3


def test_adding_a_subscriber_from_the_form(owner_client, data):
    response = owner_client.post(
        reverse("subscriber_new"),
        {"email": " Dee@Example.com ", "name": "Dee", "lists": [data["news"].pk], "attributes": ""},
    )
    dee = Subscriber.objects.get(email="dee@example.com")
    assert response["Location"] == reverse("subscriber_detail", args=[dee.pk])
    assert dee.subscriptions.get().consent_source == "admin"


def test_an_invalid_address_in_the_form_changes_nothing(owner_client, data):
    response = owner_client.post(reverse("subscriber_new"), {"email": "nope", "attributes": ""})
    assert response.status_code == 400
    assert "not a valid email address" in response.content.decode()
    response = owner_client.post(
        reverse("subscriber_new"), {"email": "x@example.com", "attributes": "[1]"}
    )
    assert response.status_code == 400
    assert Subscriber.objects.count() == 3


def test_the_subscriber_page_shows_consent_and_edits_tags(owner_client, data):
    ann = data["ann"]
    body = owner_client.get(reverse("subscriber_detail", args=[ann.pk])).content.decode()
    assert "news" in body and "admin" in body
    owner_client.post(
        reverse("subscriber_detail", args=[ann.pk]),
        {"name": "Ann", "tags": "a, b", "attributes": '{"n": 2}'},
    )
    ann.refresh_from_db()
    assert ann.name == "Ann"
    assert ann.attributes == {"n": 2}
    assert sorted(ann.tags.values_list("name", flat=True)) == ["a", "b"]


def test_unsubscribing_from_the_subscriber_page(owner_client, data):
    ann = data["ann"]
    url = reverse("subscriber_subscriptions", args=[ann.pk])
    owner_client.post(url, {"action": "unsubscribe", "list": data["news"].pk})
    assert ann.subscriptions.get().status == "unsubscribed"
    assert ann.subscriptions.get().unsubscribe_source == "admin"
    owner_client.post(url, {"action": "unsubscribe_all"})
    assert services.suppression_for(ann.email) is not None


def test_erasing_from_the_subscriber_page(owner_client, data):
    ann = data["ann"]
    owner_client.post(reverse("subscriber_erase", args=[ann.pk]))
    assert not Subscriber.objects.filter(pk=ann.pk).exists()


def test_the_lists_page_counts_each_status(owner_client, data):
    bob = Subscriber.objects.get(email="bob@example.org")
    services.unsubscribe(bob, [data["news"]], source="link")
    response = owner_client.get(reverse("lists"))
    rows = dict((ml.name, counts) for ml, counts in response.context["rows"])
    assert rows["news"] == {"unconfirmed": 0, "confirmed": 1, "unsubscribed": 1}
    assert rows["other"]["unconfirmed"] == 1


def test_creating_a_list_and_refusing_a_duplicate(owner_client, data):
    response = owner_client.post(reverse("lists"), {"name": "fresh", "optin": "double"})
    fresh = MailingList.objects.get(name="fresh")
    assert response["Location"] == reverse("list_detail", args=[fresh.pk])
    response = owner_client.post(reverse("lists"), {"name": "fresh", "optin": "single"})
    assert response.status_code == 400
    assert MailingList.objects.filter(name="fresh").count() == 1


def test_the_segment_builder_saves_rows_as_a_definition(owner_client, data):
    post = {
        "name": "news pros",
        "mode": "rows",
        "match": "all",
        "field": ["list", "attributes"],
        "key": ["", "n"],
        "op": ["in", "gte"],
        "value": ["news", "5"],
        "save": "1",
    }
    response = owner_client.post(reverse("segment_new"), post)
    segment = Segment.objects.get(name="news pros")
    assert response["Location"] == reverse("segment_edit", args=[segment.pk])
    assert segment.definition == {
        "all": [
            {"field": "list", "op": "in", "value": ["news"]},
            {"field": "attributes.n", "op": "gte", "value": 5},
        ]
    }


def test_a_malformed_segment_from_the_builder_is_not_saved(owner_client, data):
    post = {"name": "bad", "mode": "rows", "match": "all", "field": ["list"], "key": [""],
            "op": ["in"], "value": ["missing"], "save": "1"}  # fmt: skip
    response = owner_client.post(reverse("segment_new"), post)
    assert response.status_code == 400
    assert "condition 1: unknown list &#x27;missing&#x27;" in response.content.decode()
    assert not Segment.objects.filter(name="bad").exists()


def test_the_builder_adds_and_removes_rows_without_saving(owner_client, data):
    post = {"name": "x", "mode": "rows", "match": "all", "field": ["status"], "key": [""],
            "op": ["eq"], "value": ["active"], "add_row": "1"}  # fmt: skip
    response = owner_client.post(reverse("segment_new"), post)
    assert len(response.context["rows"]) == 2
    assert not Segment.objects.filter(name="x").exists()


def test_the_live_count_follows_the_form(owner_client, data):
    post = {"mode": "rows", "match": "any", "field": ["email", "email"], "key": ["", ""],
            "op": ["ends_with", "ends_with"], "value": [".org", ".net"]}  # fmt: skip
    response = owner_client.post(reverse("segment_count"), post)
    assert "<strong>2</strong>" in response.content.decode()
    post["op"] = ["like", "eq"]
    response = owner_client.post(reverse("segment_count"), post)
    assert "unknown operator" in response.content.decode()


def test_the_segments_page_loads_counts(owner_client, data):
    response = owner_client.get(reverse("segment_row_count", args=[data["segment"].pk]))
    assert response.content == b"1"
