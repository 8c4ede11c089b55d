"""Adding, subscribing, unsubscribing, suppressing and erasing subscribers."""

import pytest

from postroom.audience import bulk, services
from postroom.audience.emails import email_hash
from postroom.audience.models import MailingList, Subscriber, Subscription, Suppression, Tag
from postroom.errors import InvalidInput, NotFound

pytestmark = pytest.mark.django_db


@pytest.fixture
def news():
    return services.create_list("news")


@pytest.fixture
def confirmed_only():
    return services.create_list("members", optin="double")


@pytest.mark.parametrize(
    "variant",
    [
        "Ann@Example.COM",
        "  ann@example.com ",
        "ANN@EXAMPLE.COM\t",
    ],
)
def test_the_same_mailbox_in_another_case_or_with_spaces_is_one_subscriber(news, variant):
    first = services.add_subscriber("ann@example.com", lists=["news"])
    again = services.add_subscriber(variant, lists=["news"])
    assert again.pk == first.pk
    assert Subscriber.objects.get().email == "ann@example.com"
    assert Subscription.objects.count() == 1


def test_a_unicode_domain_and_its_punycode_are_one_subscriber(news):
    unicode_form = services.add_subscriber("jörg@bücher.example", lists=["news"])
    puny_form = services.add_subscriber("JÖRG@xn--bcher-kva.example")
    assert puny_form.pk == unicode_form.pk
    assert unicode_form.email == "jörg@bücher.example"
    assert unicode_form.email_hash == email_hash("jörg@bücher.example")


def test_the_hash_follows_the_email_on_every_save(news):
    subscriber = services.add_subscriber("old@example.com")
    subscriber.email = "new@example.com"
    subscriber.save(update_fields=["email"])
    subscriber.refresh_from_db()
    assert subscriber.email_hash == email_hash("new@example.com")
    assert Subscriber.build("x@example.com").email_hash == email_hash("x@example.com")


def test_consent_is_recorded_with_source_time_and_ip(news, confirmed_only):
    subscriber = services.add_subscriber(
        "ann@example.com", lists=["news", "members"], source="form", ip="192.0.2.7"
    )
    by_list = {s.mailing_list.name: s for s in subscriber.subscriptions.all()}
    assert by_list["news"].status == "confirmed"
    assert by_list["news"].confirmed_at is not None
    assert by_list["members"].status == "unconfirmed"
    assert by_list["members"].confirmed_at is None
    for subscription in by_list.values():
        assert subscription.consent_source == "form"
        assert subscription.consent_ip == "192.0.2.7"
        assert subscription.consent_at is not None


def test_confirming_a_double_opt_in_records_when(confirmed_only):
    subscriber = services.add_subscriber("ann@example.com", lists=["members"], source="form")
    subscription = subscriber.subscriptions.get()
    assert services.confirm(subscription, ip="2001:db8::1") is True
    assert subscription.status == "confirmed"
    assert subscription.confirmed_at is not None
    assert subscription.consent_ip == "2001:db8::1"
    assert services.confirm(subscription) is False


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"email": "not-an-address"}, InvalidInput),
        ({"email": "ann@example.com", "lists": ["news", "missing"]}, NotFound),
        ({"email": "ann@example.com", "source": "telepathy"}, InvalidInput),
        ({"email": "ann@example.com", "ip": "999.1.1.1"}, InvalidInput),
        ({"email": "ann@example.com", "attributes": ["a"]}, InvalidInput),
    ],
)
def test_bad_input_changes_nothing(news, kwargs, error):
    with pytest.raises(error):
        services.add_subscriber(**kwargs)
    assert not Subscriber.objects.exists()
    assert not Subscription.objects.exists()


def test_an_existing_subscriber_gets_new_lists_and_merged_attributes(news, confirmed_only):
    services.add_subscriber("ann@example.com", "Ann", ["news"], attributes={"a": 1, "b": 2})
    subscriber, created = services.upsert_subscriber(
        "ann@example.com", lists=["members"], attributes={"b": 3}
    )
    assert created is False
    assert subscriber.name == "Ann"
    assert subscriber.attributes == {"a": 1, "b": 3}
    assert subscriber.subscriptions.count() == 2


def test_unsubscribing_from_one_list_leaves_the_others(news, confirmed_only):
    subscriber = services.add_subscriber("ann@example.com", lists=["news", "members"])
    assert services.unsubscribe(subscriber, lists=[news], source="link") == 1
    news_sub = subscriber.subscriptions.get(mailing_list=news)
    assert news_sub.status == "unsubscribed"
    assert news_sub.unsubscribe_source == "link"
    assert news_sub.unsubscribed_at is not None
    assert subscriber.subscriptions.get(mailing_list=confirmed_only).status == "unconfirmed"
    assert not Suppression.objects.exists()


def test_unsubscribing_from_everything_suppresses_the_address(news):
    subscriber = services.add_subscriber("ann@example.com", lists=["news"])
    services.unsubscribe(subscriber, source="one-click")
    assert subscriber.subscriptions.get().status == "unsubscribed"
    suppression = Suppression.objects.get()
    assert suppression.email_hash == subscriber.email_hash
    assert suppression.reason == "unsubscribed"


def test_an_admin_re_adding_someone_to_a_list_they_left_keeps_them_unsubscribed(news):
    subscriber = services.add_subscriber("ann@example.com", lists=["news"])
    services.unsubscribe(subscriber, lists=[news], source="link")
    services.add_subscriber("ann@example.com", lists=["news"], source="admin")
    assert subscriber.subscriptions.get().status == "unsubscribed"
    services.add_subscriber("ann@example.com", lists=["news"], source="form")
    assert subscriber.subscriptions.get().status == "confirmed"


def test_erasure_removes_personal_data_but_keeps_an_unsubscribe(news):
    subscriber = services.add_subscriber("ann@example.com", "Ann", ["news"])
    services.unsubscribe(subscriber, lists=[news], source="link")
    services.erase(subscriber)
    assert not Subscriber.objects.exists()
    assert not Subscription.objects.exists()
    assert Suppression.objects.get().email_hash == email_hash("ann@example.com")
    assert not Suppression.objects.filter(email_hash__contains="ann").exists()


def test_re_adding_an_erased_unsubscribed_address_is_refused(news):
    subscriber = services.add_subscriber("ann@example.com", lists=["news"])
    services.unsubscribe(subscriber, source="link")
    services.erase(subscriber)
    with pytest.raises(services.Suppressed, match="suppression list"):
        services.add_subscriber(" ANN@example.com", lists=["news"])
    assert not Subscriber.objects.exists()


def test_erasing_someone_who_never_withdrew_leaves_no_trace(news):
    subscriber = services.add_subscriber("ann@example.com", lists=["news"])
    services.erase(subscriber)
    assert not Suppression.objects.exists()
    assert services.add_subscriber("ann@example.com").email == "ann@example.com"


def test_bounces_survive_erasure_and_block_re_adding(news):
    subscriber = services.add_subscriber("ann@example.com", lists=["news"])
    services.suppress(subscriber.email, Suppression.Reason.BOUNCED, "dsn")
    services.erase(subscriber)
    with pytest.raises(services.Suppressed, match="bounced"):
        services.add_subscriber("ann@example.com")


def test_lifting_a_suppression_never_forgets_a_complaint(news):
    services.suppress("a@example.com", Suppression.Reason.UNSUBSCRIBED)
    services.suppress("c@example.com", Suppression.Reason.COMPLAINED)
    assert services.lift_suppression("a@example.com") is True
    assert services.lift_suppression("c@example.com") is False
    assert Suppression.objects.get().reason == "complained"


def test_blocklisting_suppresses_and_survives_erasure(news):
    services.add_subscriber("a@example.com", lists=["news"])
    services.add_subscriber("b@example.com", lists=["news"])
    assert services.blocklist(Subscriber.objects.filter(email="a@example.com")) == 1
    assert Subscriber.objects.get(email="a@example.com").status == "blocklisted"
    assert Subscriber.objects.get(email="b@example.com").status == "active"
    bulk.erase_many(Subscriber.objects.all())
    assert list(Suppression.objects.values_list("reason", flat=True)) == ["blocklisted"]


def test_unblocklisting_restores_the_subscriber(news):
    subscriber = services.add_subscriber("a@example.com", lists=["news"])
    services.blocklist(Subscriber.objects.all())
    subscriber.refresh_from_db()
    services.unblocklist(subscriber)
    assert subscriber.status == "active"
    assert not Suppression.objects.exists()


def test_bulk_tagging_is_idempotent_and_untagging_removes(news):
    for n in range(5):
        services.add_subscriber(f"p{n}@example.com")
    everyone = Subscriber.objects.all()
    assert bulk.tag(everyone.filter(email__in=["p0@example.com", "p1@example.com"]), ["vip"]) == 2
    assert bulk.tag(everyone, ["vip", " new "]) == 3 + 5
    assert Tag.objects.count() == 2
    assert bulk.untag(everyone.filter(email="p0@example.com"), ["vip"]) == 1
    assert Subscriber.objects.filter(tags__name="vip").count() == 4


def test_bulk_add_to_list_skips_existing_subscriptions(news, confirmed_only):
    a = services.add_subscriber("a@example.com", lists=["members"])
    services.unsubscribe(a, lists=[confirmed_only], source="link")
    services.add_subscriber("b@example.com")
    assert bulk.add_to_list(Subscriber.objects.all(), confirmed_only) == 1
    statuses = dict(
        Subscription.objects.filter(mailing_list=confirmed_only).values_list(
            "subscriber__email", "status"
        )
    )
    assert statuses == {"a@example.com": "unsubscribed", "b@example.com": "unconfirmed"}
    row = Subscription.objects.get(subscriber__email="b@example.com")
    assert row.consent_source == "admin"


def test_creating_a_list_twice_is_refused(news):
    with pytest.raises(InvalidInput, match="already exists"):
        services.create_list("news")
    with pytest.raises(InvalidInput, match="single or double"):
        services.create_list("other", optin="triple")
    assert MailingList.objects.count() == 1


def test_list_counts_group_by_status(news, confirmed_only):
    services.add_subscriber("a@example.com", lists=["news", "members"])
    b = services.add_subscriber("b@example.com", lists=["news"])
    services.unsubscribe(b, lists=[news], source="link")
    counts = services.list_counts()
    assert counts[news.pk] == {"unconfirmed": 0, "confirmed": 1, "unsubscribed": 1}
    assert counts[confirmed_only.pk]["unconfirmed"] == 1


def test_bulk_rows_store_times_the_orm_reads_back_exactly(news):
    services.add_subscriber("a@example.com")
    bulk.add_to_list(Subscriber.objects.all(), news)
    row = Subscription.objects.get()
    assert Subscription.objects.filter(consent_at=row.consent_at).count() == 1
