"""Each event is raised from its one place, with what a receiver needs to act on it."""

from pathlib import Path

import pytest

from postroom.audience import services as audience
from postroom.audience.models import Subscriber, Subscription
from postroom.imports import services as imports
from postroom.tracking import bounces, confirmations, signups
from postroom.webhooks.models import WebhookDelivery
from tests.tracking.test_bounces import sample
from tests.webhooks.conftest import sent_events

pytestmark = pytest.mark.django_db


def test_adding_a_subscriber_raises_created_and_a_preconfirmed_one_confirmed(hook):
    news = audience.create_list("News", optin="double")
    audience.add_subscriber("zoe@example.com", name="Zoe", lists=[news], preconfirmed=True)
    (created, data), (confirmed, more) = sent_events()
    assert created == "subscriber.created"
    assert data["subscriber"]["email"] == "zoe@example.com"
    assert data["subscriber"]["name"] == "Zoe"
    assert confirmed == "subscriber.confirmed"
    assert more["list"] == {"id": news.pk, "uuid": str(news.uuid), "name": "News"}


def test_the_double_opt_in_click_raises_confirmed_once(hook):
    digest = audience.create_list("Digest", optin="double", public=True)
    signups.accept(signups.Signup(email="ann@example.com", lists=[str(digest.uuid)]), None, None)
    signups.process_pending()
    assert [e for e, _ in sent_events()] == ["subscriber.created"]
    pending = confirmations.Pending(Subscriber.objects.get(), digest, issued_ms=int(1e13))
    assert confirmations.confirm_subscription(pending)
    assert [e for e, _ in sent_events()] == ["subscriber.created", "subscriber.confirmed"]
    assert Subscription.objects.get().status == "confirmed"


def test_unsubscribing_raises_unsubscribed_with_the_lists_left(hook):
    news = audience.create_list("News")
    weekly = audience.create_list("Weekly")
    zoe = audience.add_subscriber("zoe@example.com", lists=[news, weekly])
    WebhookDelivery.objects.all().delete()
    audience.unsubscribe(zoe, [weekly], source="api")
    audience.unsubscribe(zoe, None, source="link")
    (first, one), (second, everything) = sent_events()
    assert first == second == "subscriber.unsubscribed"
    assert (one["lists"], one["everything"], one["source"]) == (["Weekly"], False, "api")
    assert (everything["lists"], everything["everything"]) == (["News"], True)


@pytest.mark.parametrize(
    ("file", "event", "kind"),
    [
        ("postfix_550_user_unknown.eml", "subscriber.bounced", "hard"),
        ("postfix_422_mailbox_full.eml", "subscriber.bounced", "soft"),
        ("arf_abuse_complaint.eml", "subscriber.complained", "complaint"),
    ],
)
def test_a_bounce_or_complaint_raises_its_event_once(hook, file, event, kind):
    audience.add_subscriber("ann@example.com")
    WebhookDelivery.objects.all().delete()
    report = sample(file, "ann@example.com")
    bounces.ingest_messages([report], "test")
    bounces.ingest_messages([report], "test")  # the same report again: no second event
    events = [(e, d) for e, d in sent_events() if e != "subscriber.unsubscribed"]
    assert len(events) == 1
    name, data = events[0]
    assert name == event
    assert (data["email"], data["kind"]) == ("ann@example.com", kind)
    assert data["subscriber_id"] == Subscriber.objects.get().pk


def test_a_finished_import_raises_import_finished_with_its_counts(hook, tmp_path):
    audience.create_list("News")
    path = Path(tmp_path) / "people.csv"
    path.write_text("email\na@example.com\nb@example.com\nnot-an-address\n")
    imp = imports.prepare(path, lists=["News"])
    imports.start(imp)
    imports.execute(imports.claim(imp.pk))
    finished = [d for e, d in sent_events() if e == "import.finished"]
    assert len(finished) == 1
    assert finished[0]["status"] == "finished"
    assert (finished[0]["created"], finished[0]["rejected"], finished[0]["rows"]) == (2, 1, 3)
    # An import writes in bulk: it raises no subscriber.created per row.
    assert not [e for e, _ in sent_events() if e == "subscriber.created"]


def test_with_no_endpoint_nothing_is_queued(db):
    audience.add_subscriber("zoe@example.com")
    assert not WebhookDelivery.objects.exists()


def test_a_new_alert_is_the_webhook_event_alert_raised_once(hook):
    from postroom.alerts import services as alerts

    for _ in range(2):  # the repeat only counts on the open alert
        alerts.notify(
            "process_restarted",
            "process_restarted:worker",
            "the worker of postroom run stopped unexpectedly and was restarted",
            "It exited (exit -9: killed by SIGKILL).",
        )
    raised = [data for kind, data in sent_events() if kind == "alert.raised"]
    assert len(raised) == 1
    assert raised[0]["kind"] == "process_restarted"
    assert raised[0]["title"].startswith("the worker of postroom run stopped")
