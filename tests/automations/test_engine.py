"""The sequence engine, driven step by step in this process: who enters, when, and what stops it."""

from datetime import time, timedelta

import pytest
from django.utils import timezone

from postroom.audience import services as audience
from postroom.audience.models import Subscriber, Suppression, Tag
from postroom.automations import engine, services, waits
from postroom.automations.models import Automation, Enrolment
from postroom.delivery.models import Delivery
from postroom.errors import Conflict, InvalidInput
from postroom.testing.smtpserver import CaptureServer
from tests.automations.helpers import fast_forward, join, welcome
from tests.delivery.helpers import make_audience, run_until_idle, smtp_sender

pytestmark = pytest.mark.django_db


def run_engine(now=None) -> None:
    now = now or timezone.now()
    engine.enrol_triggered(now, force=True)
    while engine.advance(now):
        pass


def test_only_people_who_join_after_activation_enter_and_each_step_sends_once():
    news = make_audience(3)
    automation = welcome(news)
    join(news, 2)
    run_engine()
    assert Enrolment.objects.filter(automation=automation).count() == 2, "the 3 members stay out"
    assert Delivery.objects.count() == 2, "step 1 has no wait"
    run_engine()  # nothing is due: the second step waits a day
    assert Delivery.objects.count() == 2
    fast_forward(automation, timezone.now())
    run_engine()
    fast_forward(automation, timezone.now())
    run_engine()
    run_engine()
    assert Delivery.objects.count() == 6
    assert set(Enrolment.objects.values_list("state", flat=True)) == {"completed"}
    status = services.status(automation)
    assert (status["enrolled"], status["completed"]) == (2, 2)


def test_enrol_existing_takes_the_members_at_activation_too():
    make_audience(3)
    automation = services.create(
        name="All", trigger="joined:news", from_email="a@example.org", enrol_existing=True
    )
    services.add_step(automation, subject="Hi", body="Hello")
    services.activate(automation)
    run_engine()
    assert Delivery.objects.count() == 3


def test_a_wait_until_a_weekday_and_time_is_in_the_persons_zone():
    start = timezone.datetime(2026, 12, 3, 20, 0, tzinfo=waits.UTC)  # a Thursday
    tokyo = waits.zone_of({"timezone": "Asia/Tokyo"})
    # 05:00 Friday in Tokyo: Monday 09:00 Tokyo is the next Monday-to-Friday 09:00? No: Friday.
    ends = waits.wait_ends(start, 0, "0,1,2,3,4", time(9, 0), tokyo)
    assert ends.astimezone(tokyo).isoformat() == "2026-12-04T09:00:00+09:00"
    ends = waits.wait_ends(start, 86400, "0", time(9, 0), tokyo)  # a day, then Monday 09:00
    assert ends.astimezone(tokyo).isoformat() == "2026-12-07T09:00:00+09:00"
    assert waits.zone_of({"timezone": "Mars/Olympus"}) == waits.UTC
    assert waits.parse_duration("1d12h") == 129600
    with pytest.raises(InvalidInput, match="3d"):
        waits.parse_duration("3 days")


def test_unsubscribing_bouncing_or_suppression_stops_the_sequence():
    news = make_audience(0)
    automation = welcome(news)
    leaver, bouncer, kept = join(news, 3)
    run_engine()
    assert Delivery.objects.count() == 3
    audience.unsubscribe(leaver, [news], source="test")
    audience.suppress(bouncer.email, Suppression.Reason.BOUNCED, "test")
    fast_forward(automation, timezone.now())
    run_engine()
    states = dict(Enrolment.objects.values_list("subscriber__email", "state"))
    reasons = dict(Enrolment.objects.values_list("subscriber__email", "reason"))
    assert states == {leaver.email: "stopped", bouncer.email: "stopped", kept.email: "active"}
    assert reasons[leaver.email] == "unsubscribed"
    assert reasons[bouncer.email] == "suppressed (bounced)"
    assert Delivery.objects.count() == 4, "only the one still subscribed got step 2"


@pytest.mark.django_db(transaction=True)
def test_the_row_builder_skips_who_left_after_the_row_was_queued():
    server = CaptureServer()
    server.start()
    try:
        news = make_audience(0)
        automation = welcome(news, sender=smtp_sender(server), steps=1)
        stays, leaves = join(news, 2)
        run_engine()
        audience.unsubscribe(leaves, None, source="test")  # after the row, before the send
        run_until_idle()
    finally:
        server.stop()
    rows = dict(Delivery.objects.values_list("email", "state"))
    assert rows == {stays.email: "sent", leaves.email: "skipped"}
    assert [m.rcpt_to for m in server.messages] == [[stays.email]]
    assert "Welcome 1, Joiner" in server.messages[0].data.decode()
    assert services.status(automation)["steps"][0]["sent"] == 1


def test_tag_list_and_branch_steps():
    news = make_audience(0)
    vip = audience.create_list("VIP")
    automation = services.create(name="Sort", trigger="api", from_email="a@example.org")
    services.add_step(automation, kind="tag", tag="new")
    services.add_step(
        automation, kind="branch", condition={"if": "attribute", "name": "plan", "value": "pro"}
    )  # pro: leave here (goto 0)
    services.add_step(automation, kind="add_list", mailing_list="VIP")
    services.add_step(automation, kind="untag", tag="new")
    services.activate(automation)
    pro, free = join(news, 2)
    Subscriber.objects.filter(pk=pro.pk).update(attributes={"plan": "pro"})
    for person in (pro, free):
        services.enrol(automation, person)
    with pytest.raises(Conflict, match="already"):
        services.enrol(automation, pro)
    run_engine()
    assert set(Tag.objects.get(name="new").subscribers.all()) == {pro}
    assert list(vip.subscriptions.values_list("subscriber", flat=True)) == [free.pk]
    assert set(Enrolment.objects.values_list("state", flat=True)) == {"completed"}


def test_a_segment_trigger_leaves_out_the_members_at_activation():
    make_audience(0)
    segment = audience.save_segment(
        "Berliners", {"all": [{"field": "attributes.city", "op": "eq", "value": "Berlin"}]}
    )
    before = join(audience.get_list("news"), 1, city="Berlin")[0]
    automation = services.create(name="Berlin", trigger="segment:Berliners", from_email="a@x.org")
    services.add_step(automation, subject="Hallo", body="Berlin!")
    services.activate(automation)
    later = join(audience.get_list("news"), 1, start=5)[0]
    Subscriber.objects.filter(pk=later.pk).update(attributes={"city": "Berlin"})
    run_engine()
    states = dict(Enrolment.objects.values_list("subscriber_id", "state"))
    assert states == {before.pk: "excluded", later.pk: "completed"}
    assert segment.pk


def test_bad_definitions_are_refused_and_nothing_is_saved():
    make_audience(0)
    with pytest.raises(InvalidInput, match="trigger"):
        services.create(name="X", trigger="left:news", from_email="a@example.org")
    with pytest.raises(Exception, match="news2"):
        services.create(name="X", trigger="joined:news2", from_email="a@example.org")
    automation = services.create(name="X", trigger="date:birthday", from_email="a@example.org")
    with pytest.raises(InvalidInput, match="no steps"):
        services.activate(automation)
    with pytest.raises(InvalidInput, match="cannot be built"):
        services.add_step(automation, subject="Hi {{ x", body="b")
    with pytest.raises(InvalidInput, match="webhook"):
        services.add_step(automation, kind="webhook")
    assert Automation.objects.count() == 1 and not automation.steps.exists()
    assert automation.status == "draft"


def test_a_paused_sequence_moves_nobody_until_it_is_activated_again():
    news = make_audience(0)
    automation = welcome(news)
    services.pause(automation)
    join(news, 2)
    run_engine()
    assert not Enrolment.objects.exists()
    services.activate(automation)
    run_engine(timezone.now() + timedelta(seconds=1))
    assert Delivery.objects.count() == 2, "who joined while paused enters on resume"


def test_who_leaves_while_waiting_is_stopped_at_once_not_when_the_wait_ends():
    news = make_audience(0)
    automation = welcome(news, steps=2, wait="30d")
    leaver, bouncer, blocked, kept = join(news, 4)
    run_engine()  # step 1 sent; step 2 is a month away
    before = timezone.now()
    audience.unsubscribe(leaver, [news], source="test")
    audience.suppress(bouncer.email, Suppression.Reason.BOUNCED, "test")
    audience.set_status(blocked, Subscriber.Status.BLOCKLISTED)

    assert engine.stop_departed(since=before) == 3, "the side thread's pass over who changed"
    places = {row["email"]: (row["state"], row["reason"]) for row in services.positions(automation)}
    assert places == {
        leaver.email: ("stopped", "unsubscribed"),
        bouncer.email: ("stopped", "suppressed (bounced)"),
        blocked.email: ("stopped", "blocklisted"),
        kept.email: ("active", ""),
    }
    status = services.status(automation)
    assert (status["active"], status["stopped"], status["steps"][1]["waiting"]) == (1, 3, 1)
    assert "suppressed (bounced)" in "".join(services.positions_csv(automation))
    assert engine.stop_departed() == 0, "a pass over everyone with nobody else gone: none"
    fast_forward(automation, timezone.now())
    run_engine()
    assert Delivery.objects.count() == 5, "only the one still subscribed got step 2"


@pytest.mark.django_db(transaction=True)
def test_an_idle_worker_stays_while_the_side_thread_has_entered_people_and_not_queued_them():
    """The side thread enters people (one commit), then queues their step (another). The
    worker's idle check runs meanwhile: here the entry commits right after the check's first
    look at the sequences' people, the worst moment, and the step is not queued yet."""
    import threading

    from django.db import connection

    from postroom.delivery.worker import DeliveryWorker

    news = make_audience(0)
    automation = welcome(news, steps=1)
    join(news, 2)
    entered = []

    def enter_once(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if not entered and Enrolment._meta.db_table in sql:
            entered.append(True)  # what the side thread does between two of our queries
            side = threading.Thread(target=lambda: engine.enrol_triggered(force=True))
            side.start()
            side.join()
        return result

    worker = DeliveryWorker()
    try:
        with connection.execute_wrapper(enter_once):
            busy = worker.has_work()
    finally:
        worker.close()
    assert entered and Enrolment.objects.filter(automation=automation).count() == 2
    assert not Delivery.objects.exists(), "their step is not queued yet"
    assert busy, "idle now would leave two people's step 1 to a live worker"
