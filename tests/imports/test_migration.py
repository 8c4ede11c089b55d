"""Importing the exports of the tools people leave: nobody who left is made mailable.

The files under tests/data/exports are shaped as each tool writes them (headers,
quoting, line endings, encodings; see make_exports.py). "Mailable" is what a
campaign's recipient selection uses: audience.eligibility.mailable_subscribers.
"""

import logging
from datetime import UTC, datetime

import pytest

from postroom.audience.eligibility import mailable_subscribers
from postroom.audience.emails import email_hash
from postroom.audience.models import MailingList, Subscriber, Subscription, Suppression
from postroom.audience.services import add_subscriber, erase, unsubscribe
from postroom.imports import services
from postroom.imports.detect import LooksLikeLeavers
from postroom.imports.models import Import
from tests.data import DATA
from tests.imports.conftest import run, write

EXPORTS = DATA / "exports"
MAILCHIMP = EXPORTS / "mailchimp"
UNSUBSCRIBED = MAILCHIMP / "unsubscribed_members_export_4f1c8e2a9b.csv"
CLEANED = MAILCHIMP / "cleaned_members_export_4f1c8e2a9b.csv"
SUBSCRIBED = MAILCHIMP / "subscribed_members_export_4f1c8e2a9b.csv"


@pytest.fixture
def double(db) -> MailingList:
    return MailingList.objects.create(name="Letters", optin="double")


def mailable(*lists) -> set[str]:
    return set(mailable_subscribers(list(lists)).values_list("email", flat=True))


def states_of(email: str) -> dict[str, str]:
    return dict(
        Subscription.objects.filter(subscriber__email=email).values_list(
            "mailing_list__name", "status"
        )
    )


def test_a_mailchimp_unsubscribed_export_makes_nobody_mailable(news):
    imp = run(UNSUBSCRIBED)
    assert (imp.rows, imp.created, imp.rejected) == (20, 20, 0)
    assert imp.states == {"unsubscribed": 20}
    assert services.recognised(imp, imp.states) == [
        "Mailchimp unsubscribed export: 20 people will be imported as unsubscribed"
    ]
    assert mailable(news) == set()
    assert Subscription.objects.filter(mailing_list=news, status="unsubscribed").count() == 20


def test_the_original_unsubscribe_time_and_the_consent_record_are_kept(news):
    run(UNSUBSCRIBED)
    row = Subscription.objects.get(subscriber__email="zoe.100@mc.example.com")
    # UNSUB_TIME, OPTIN_TIME and OPTIN_IP of that row in the file.
    assert row.unsubscribed_at == datetime(2024, 4, 2, 8, 30, tzinfo=UTC)
    assert row.consent_at == datetime(2023, 2, 10, 9, 10, 7, tzinfo=UTC)
    assert row.consent_ip == "203.0.113.100"
    assert row.unsubscribe_source == "import (unsubscribed)"


def test_mailchimp_tags_become_tags_and_time_zones_an_attribute(news):
    run(SUBSCRIBED)
    vip = Subscriber.objects.get(email="zoe.0@mc.example.com")
    assert sorted(vip.tags.values_list("name", flat=True)) == ["2024 fair", "vip"]
    assert "tags" not in vip.attributes and "optin_time" not in vip.attributes
    assert vip.attributes["timezone"] == "America/New_York"
    assert list(
        Subscriber.objects.get(email="jur.1@mc.example.com").tags.values_list("name", flat=True)
    ) == ["newsletter"]


def test_a_subscribed_export_with_confirm_times_is_confirmed_on_a_double_opt_in_list(double):
    imp = run(SUBSCRIBED, lists=["Letters"])
    assert imp.states == {"subscribed": 10}
    row = Subscription.objects.get(subscriber__email="zoe.0@mc.example.com")
    assert row.status == "confirmed"
    assert row.confirmed_at == datetime(2023, 1, 10, 10, 10, 7, tzinfo=UTC)
    assert row.consent_ip == "203.0.113.0"
    assert len(mailable(double)) == 10


def test_a_mailchimp_cleaned_export_is_suppressed_as_bounces(news):
    imp = run(CLEANED)
    assert imp.states == {"bounced": 5}
    suppression = Suppression.objects.get(email_hash=email_hash("zoe.200@mc.example.com"))
    assert suppression.reason == "bounced"
    assert suppression.created_at == datetime(2024, 3, 3, 17, 45, tzinfo=UTC)  # CLEAN_TIME
    assert mailable(news) == set()


def test_an_existing_subscriber_who_unsubscribed_there_is_unsubscribed_here(news):
    add_subscriber("zoe.100@mc.example.com", lists=[news])
    assert mailable(news) == {"zoe.100@mc.example.com"}
    imp = run(UNSUBSCRIBED)
    assert (imp.created, imp.updated) == (19, 1)
    assert mailable(news) == set()


def test_a_listmonk_export_keeps_blocklisted_people_off_and_reads_json_attributes(news):
    imp = run(EXPORTS / "listmonk-subscribers.csv")
    assert imp.states == {"subscribed": 6, "blocklisted": 3, "unsubscribed": 1}
    assert services.recognised(imp)[0] == "listmonk export"
    blocked = Subscriber.objects.get(email="ine.6@lm.example.org")
    assert blocked.status == "blocklisted"
    assert Suppression.objects.get(email_hash=blocked.email_hash).reason == "blocklisted"
    assert states_of("tom.9@lm.example.org") == {"News": "unsubscribed"}  # "disabled"
    zoe = Subscriber.objects.get(email="zoe.0@lm.example.org")
    assert zoe.attributes["city"] == "Bengaluru" and zoe.attributes["projects"] == 0
    assert "attributes" not in zoe.attributes
    assert len(mailable(news)) == 6


def test_a_keila_export_reads_data_and_treats_unreachable_as_a_bounce(news):
    imp = run(EXPORTS / "keila-contacts.csv")
    assert imp.states == {"subscribed": 5, "unsubscribed": 2, "bounced": 1}
    assert (
        Suppression.objects.get(email_hash=email_hash("rav.7@keila.example.net")).reason
        == "bounced"
    )
    assert Subscriber.objects.get(email="jur.1@keila.example.net").attributes["plan"] == "pro"
    assert len(mailable(news)) == 5


def test_a_sendy_export_honours_every_status_it_writes(double):
    imp = run(EXPORTS / "sendy-news-all.csv", lists=["Letters"])
    assert imp.states == {
        "subscribed": 4,
        "pending": 1,
        "unsubscribed": 2,
        "bounced": 1,
        "complained": 1,
    }
    assert states_of("mei.4@sendy.example.com") == {"Letters": "unconfirmed"}  # Unconfirmed
    spam = Subscriber.objects.get(email="sof.8@sendy.example.com")  # Marked as spam
    assert spam.status == "blocklisted"
    assert Suppression.objects.get(email_hash=spam.email_hash).reason == "complained"
    first = Subscription.objects.get(subscriber__email="zoe.0@sendy.example.com")
    assert first.consent_ip == "192.0.2.1"
    assert first.consent_at == datetime(2024, 3, 1, 10, 20, tzinfo=UTC)  # "Joined"
    # Active on a double opt-in list without a confirmation time: still waiting.
    assert mailable(double) == set()


def test_pending_people_are_refused_by_a_single_opt_in_list_with_the_reason(news):
    imp = run(EXPORTS / "sendy-news-all.csv")
    reasons = dict(imp.rejected_rows.values_list("raw", "reason"))
    assert reasons["mei.4@sendy.example.com"].startswith("pending: this person never confirmed")
    assert not Subscriber.objects.filter(email="mei.4@sendy.example.com").exists()
    assert len(mailable(news)) == 4


def test_a_brevo_export_blocklists_the_blacklisted_and_keeps_the_language(news):
    imp = run(EXPORTS / "brevo-contacts.csv")
    assert services.recognised(imp)[0] == "Brevo export"
    assert imp.states == {"subscribed": 6, "blocklisted": 2}
    assert Subscriber.objects.get(email="luk.2@brevo.example.fr").status == "blocklisted"
    assert Subscriber.objects.get(email="zoe.0@brevo.example.fr").attributes["language"] == "fr"
    assert len(mailable(news)) == 6


def test_a_mailerlite_export_with_a_bom_honours_junk_bounced_and_unconfirmed(double):
    imp = run(EXPORTS / "mailerlite-subscribers.csv", lists=["Letters"], confirmed=True)
    assert services.recognised(imp)[0] == "MailerLite export"
    assert imp.states == {
        "subscribed": 4,
        "pending": 1,
        "unsubscribed": 1,
        "bounced": 1,
        "complained": 1,
    }
    assert len(mailable(double)) == 4
    gone = Subscription.objects.get(subscriber__email="mei.4@ml.example.lt")
    assert gone.unsubscribed_at == datetime(2024, 1, 5, 10, tzinfo=UTC)


def test_a_substack_export_unsubscribes_those_who_turned_emails_off(news):
    imp = run(EXPORTS / "substack-emails.csv")
    assert services.recognised(imp)[0] == "Substack export"
    assert imp.states == {"subscribed": 6, "unsubscribed": 2}
    assert states_of("ana.3@substack.example.com") == {"News": "unsubscribed"}
    assert len(mailable(news)) == 6


def test_an_import_never_subscribes_again_someone_who_unsubscribed(news):
    zoe = add_subscriber("zoe.0@mc.example.com", lists=[news])
    unsubscribe(zoe, [news], source="link")
    imp = run(SUBSCRIBED)
    assert imp.unchanged == 1 and imp.resubscribed == 0
    assert states_of("zoe.0@mc.example.com") == {"News": "unsubscribed"}
    assert "zoe.0@mc.example.com" not in mailable(news)


def test_the_override_subscribes_them_again_and_says_who_and_when(news, owner, caplog):
    zoe = add_subscriber("zoe.0@mc.example.com", lists=[news])
    unsubscribe(zoe, [news], source="link")
    gone = add_subscriber("jur.1@mc.example.com", lists=[news])
    unsubscribe(gone)  # from everything: suppressed as unsubscribed
    bounced = add_subscriber("luk.2@mc.example.com", lists=[news])
    Suppression.objects.create(email_hash=bounced.email_hash, reason="bounced")
    caplog.set_level(logging.WARNING, logger="postroom.imports.services")
    imp = run(SUBSCRIBED, resubscribe=True, user=owner)
    assert (imp.resubscribe, imp.resubscribe_by) == (True, owner.username)
    assert imp.resubscribe_at is not None
    assert f"import {imp.pk}" in caplog.text and owner.username in caplog.text
    assert imp.resubscribed == 2
    emails = mailable(news)
    assert {"zoe.0@mc.example.com", "jur.1@mc.example.com"} <= emails
    assert "luk.2@mc.example.com" not in emails  # a bounce is never overridden
    assert imp.rejected == 1


def test_a_file_that_looks_like_people_who_left_is_refused_until_a_status_is_chosen(news, tmp_path):
    path = write(tmp_path, "email\nann@example.com\nbob@example.com\n", name="unsubscribes.csv")
    with pytest.raises(LooksLikeLeavers, match=r"its name 'unsubscribes\.csv' suggests people"):
        services.prepare(path, lists=["News"])
    other = write(tmp_path, "email,bounce reason\nann@example.com,full\n", name="people.csv")
    with pytest.raises(LooksLikeLeavers, match="its column 'bounce reason'"):
        services.prepare(other, lists=["News"])
    assert (Import.objects.count(), Subscriber.objects.count()) == (0, 0)
    imp = run(path, status="unsubscribed")
    assert imp.states == {"unsubscribed": 2}
    assert mailable(news) == set()


def test_a_status_word_nobody_uses_rejects_the_row_with_the_reason(news, tmp_path):
    path = write(tmp_path, "email,status\nann@example.com,active\nbob@example.com,sleeping\n")
    imp = run(path)
    assert (imp.created, imp.rejected) == (1, 1)
    assert imp.rejected_rows.get().reason.startswith("unknown status 'sleeping' in column")


def test_a_later_row_saying_someone_left_wins_over_an_earlier_subscribed_one(news, tmp_path):
    path = write(
        tmp_path, "email,status\nann@example.com,subscribed\nann@example.com,unsubscribed\n"
    )
    imp = run(path)
    assert (imp.created, imp.duplicates) == (1, 1)
    assert mailable(news) == set()


def test_an_erased_person_is_not_brought_back_by_an_export_saying_they_left(news):
    erase(add_subscriber("zoe.100@mc.example.com", lists=[news]))
    Suppression.objects.get_or_create(
        email_hash=email_hash("zoe.100@mc.example.com"), defaults={"reason": "unsubscribed"}
    )
    imp = run(UNSUBSCRIBED)
    assert (imp.created, imp.unchanged) == (19, 1)
    assert not Subscriber.objects.filter(email="zoe.100@mc.example.com").exists()


def test_a_json_attributes_column_that_holds_no_object_rejects_the_row(news, tmp_path):
    path = write(tmp_path, 'email,attributes\nann@example.com,"{""a"": 1}"\nbob@example.com,[1]\n')
    imp = run(path)
    assert Subscriber.objects.get(email="ann@example.com").attributes == {"a": 1}
    assert (
        imp.rejected_rows.get().reason
        == "the 'attributes' column must hold a JSON object of attributes"
    )


def test_listmonk_list_subscription_statuses_are_honoured_when_present(news, tmp_path):
    path = write(
        tmp_path,
        "uuid,email,name,attributes,status,subscription_status,created_at,updated_at\n"
        "u1,ann@example.com,Ann,{},enabled,confirmed,2024-01-01,2024-01-01\n"
        "u2,bob@example.com,Bob,{},enabled,unsubscribed,2024-01-01,2024-01-01\n"
        "u3,cat@example.com,Cat,{},blocklisted,confirmed,2024-01-01,2024-01-01\n"
        "u4,dan@example.com,Dan,{},enabled,unconfirmed,2024-01-01,2024-01-01\n",
        name="subscribers.csv",
    )
    imp = run(path)
    assert imp.states == {"subscribed": 1, "unsubscribed": 1, "blocklisted": 1}
    assert imp.rejected == 1  # Dan is pending, and News is a single opt-in list
    assert mailable(news) == {"ann@example.com"}
