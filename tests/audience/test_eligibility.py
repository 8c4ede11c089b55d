"""Who may be mailed: the rule campaign counts and the ledger share."""

import pytest

from postroom.audience import services
from postroom.audience.eligibility import mailable_subscribers
from postroom.audience.models import MailingList, Subscriber

pytestmark = pytest.mark.django_db


def emails(qs) -> set[str]:
    return set(qs.values_list("email", flat=True))


@pytest.fixture
def audience():
    news = services.create_list("news")
    members = services.create_list("members", optin="double")
    services.add_subscriber("single@example.com", lists=["news"])
    services.add_subscriber("pending@example.com", lists=["members"])
    confirmed = services.add_subscriber("confirmed@example.com", lists=["members"])
    services.confirm(confirmed.subscriptions.get())
    left = services.add_subscriber("left@example.com", lists=["news"])
    services.unsubscribe(left, lists=[news], source="link")
    services.add_subscriber("blocked@example.com", lists=["news"])
    services.blocklist(Subscriber.objects.filter(email="blocked@example.com"))
    services.add_subscriber("bounced@example.com", lists=["news"])
    services.suppress("bounced@example.com", "bounced")
    services.add_subscriber("both@example.com", lists=["news", "members"])
    services.add_subscriber("nolist@example.com")
    return news, members


def test_only_active_unsuppressed_people_with_a_mailable_subscription(audience):
    news, members = audience
    assert emails(mailable_subscribers([news])) == {"single@example.com", "both@example.com"}
    assert emails(mailable_subscribers([members])) == {"confirmed@example.com"}


def test_someone_on_two_targeted_lists_appears_once(audience):
    qs = mailable_subscribers(MailingList.objects.all())
    assert qs.filter(email="both@example.com").count() == 1
    assert qs.count() == 3


def test_unconfirmed_on_a_single_opt_in_list_is_mailable(audience):
    news, _ = audience
    services.add_subscriber("u@example.com")
    subscriber = Subscriber.objects.get(email="u@example.com")
    subscriber.subscriptions.create(
        mailing_list=news, status="unconfirmed", consent_source="import"
    )
    assert "u@example.com" in emails(mailable_subscribers([news]))


def test_a_segment_narrows_the_lists(audience):
    news, _ = audience
    segment = services.save_segment("b", {"field": "email", "op": "starts_with", "value": "b"})
    assert emails(mailable_subscribers([news], segment)) == {"both@example.com"}


def test_a_segment_alone_leaves_out_those_who_withdrew_or_never_confirmed(audience):
    segment = services.save_segment("all", {"all": []})
    assert emails(mailable_subscribers(None, segment)) == {
        "single@example.com",
        "confirmed@example.com",
        "both@example.com",
        "nolist@example.com",
    }


def test_nothing_targeted_is_nobody(audience):
    qs = mailable_subscribers([])
    assert qs.count() == 0
    sql, _ = qs.values("pk").query.sql_with_params()
    assert "SELECT" in sql


def test_the_queryset_compiles_to_one_plain_select_for_the_ledger(audience):
    news, _ = audience
    segment = services.save_segment("b", {"field": "attributes.x", "op": "not_exists"})
    sql, _ = mailable_subscribers([news], segment).values("pk", "email").query.sql_with_params()
    assert "DISTINCT" not in sql.upper()
    assert "GROUP BY" not in sql.upper()
