"""Outgoing webhooks against a real HTTP receiver in this process: signed POSTs, retries with
back-off after 500s and timeouts, giving up, a dead endpoint left alone for the pass, leases."""

import json
import time

import pytest
from django.db import transaction

from postroom.webhooks import sender, services, signing
from postroom.webhooks.events import emit
from postroom.webhooks.models import WebhookDelivery
from tests.webhooks.receiver import Receiver

pytestmark = pytest.mark.django_db(transaction=True)
State = WebhookDelivery.State


@pytest.fixture(autouse=True)
def short_timeout(settings):
    settings.POSTROOM_WEBHOOK_TIMEOUT_SECONDS = 0.5


def endpoint_for(receiver: Receiver, name: str = "crm", events=("subscriber.created",)):
    return services.create_endpoint(name, receiver.url, list(events))


def test_each_post_is_signed_over_its_timestamp_and_body():
    with Receiver() as receiver:
        endpoint, secret = endpoint_for(receiver)
        assert emit("subscriber.created", {"subscriber": {"email": "zoe@example.com"}}) == 1
        assert sender.deliver_due() == 1
        [got] = receiver.wait_for(1)

    body = got.json
    assert body["type"] == "subscriber.created"
    assert body["data"] == {"subscriber": {"email": "zoe@example.com"}}
    assert got.headers[signing.HEADER_ID] == body["id"]
    assert got.headers[signing.HEADER_EVENT] == "subscriber.created"
    assert got.headers["Content-Type"] == "application/json"
    stamp = got.headers[signing.HEADER_TIMESTAMP]
    signed = got.headers[signing.HEADER_SIGNATURE]
    assert signing.verify(secret, stamp, signed, got.body, now=time.time())
    # What the docs tell receivers to refuse: another body, another secret, an old timestamp.
    assert not signing.verify(secret, stamp, signed, got.body + b" ", now=time.time())
    assert not signing.verify("whsec_other", stamp, signed, got.body, now=time.time())
    assert not signing.verify(secret, stamp, signed, got.body, now=int(stamp) + 301)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.attempts, delivery.last_status) == (State.DELIVERED, 1, 200)
    assert endpoint.secret == secret


def test_a_500_is_retried_with_back_off_until_a_2xx():
    with Receiver(["500", "500", "200"]) as receiver:
        endpoint_for(receiver)
        emit("subscriber.created", {"n": 1})
        t0 = time.time()
        assert sender.deliver_due(now=t0) == 1
        row = WebhookDelivery.objects.get()
        assert (row.state, row.attempts, row.last_status) == (State.PENDING, 1, 500)
        assert row.last_error == "HTTP 500 Internal Server Error: nope"
        assert row.next_attempt_at - t0 >= sender.BACKOFF_FIRST - 1
        assert sender.deliver_due(now=t0 + 5) == 0  # not due yet
        assert sender.deliver_due(now=row.next_attempt_at + 1) == 1
        row.refresh_from_db()
        assert row.attempts == 2
        assert row.next_attempt_at - time.time() >= 2 * sender.BACKOFF_FIRST - 1  # doubled
        assert sender.deliver_due(now=row.next_attempt_at + 1) == 1
        received = receiver.wait_for(3)

    row.refresh_from_db()
    assert (row.state, row.attempts, row.last_status) == (State.DELIVERED, 3, 200)
    assert [a.status for a in row.attempt_log.order_by("pk")] == [500, 500, 200]
    assert len({r.json["id"] for r in received}) == 1  # the same event each time


def test_a_timeout_is_an_attempt_that_failed_and_is_retried():
    with Receiver(["hang", "200"], hang_seconds=3) as receiver:
        endpoint_for(receiver)
        emit("subscriber.created", {"n": 1})
        started = time.monotonic()
        sender.deliver_due()
        took = time.monotonic() - started
        row = WebhookDelivery.objects.get()
        assert row.last_status is None
        assert row.last_error == "no answer within 0.5 s"
        assert took < 2.5  # bounded by the timeout, not by the endpoint's 3 s
        sender.deliver_due(now=row.next_attempt_at + 1)
        receiver.wait_for(2)
    row.refresh_from_db()
    assert row.state == State.DELIVERED


def test_a_refused_connection_and_a_redirect_are_failures():
    with Receiver(["302"]) as receiver:
        endpoint_for(receiver)
        emit("subscriber.created", {"n": 1})
        sender.deliver_due()
    row = WebhookDelivery.objects.get()
    assert (row.state, row.last_status) == (State.PENDING, 302)  # not followed
    sender.deliver_due(now=row.next_attempt_at + 1)  # the receiver is gone now
    row.refresh_from_db()
    assert row.last_status is None and row.last_error.startswith("could not connect")


def test_it_gives_up_after_the_last_attempt_and_keeps_the_log():
    with Receiver(["500"] * sender.MAX_ATTEMPTS) as receiver:
        endpoint_for(receiver)
        emit("subscriber.created", {"n": 1})
        now = time.time()
        for _ in range(sender.MAX_ATTEMPTS):
            sender.deliver_due(now=now)
            now += sender.BACKOFF_MAX + 1
        assert sender.deliver_due(now=now) == 0
        receiver.wait_for(sender.MAX_ATTEMPTS)
    row = WebhookDelivery.objects.get()
    assert (row.state, row.attempts) == (State.FAILED, sender.MAX_ATTEMPTS)
    assert row.attempt_log.count() == sender.MAX_ATTEMPTS


def test_a_dead_endpoint_costs_one_timeout_a_pass_and_others_are_still_served():
    with Receiver(["hang"] * 10, hang_seconds=3) as dead, Receiver() as alive:
        endpoint_for(dead, "dead")
        endpoint_for(alive, "alive")
        for n in range(5):
            emit("subscriber.created", {"n": n})
        started = time.monotonic()
        made = sender.deliver_due()
        took = time.monotonic() - started
        alive.wait_for(5)
    assert made == 6  # one POST to the dead endpoint, five to the live one
    assert took < 5 * 0.5  # not a timeout per waiting event
    assert len(dead.received) == 1
    assert WebhookDelivery.objects.filter(endpoint__name="dead", attempts=0).count() == 4


def test_an_event_whose_change_rolls_back_is_never_sent():
    with Receiver() as receiver:
        endpoint_for(receiver)
        with pytest.raises(RuntimeError), transaction.atomic():
            emit("subscriber.created", {"n": 1})
            raise RuntimeError("the change failed")
    assert not WebhookDelivery.objects.exists()


def test_only_active_endpoints_that_chose_the_event_get_it():
    with Receiver() as receiver:
        endpoint_for(receiver, "wants", events=["subscriber.created"])
        endpoint_for(receiver, "other", events=["campaign.finished"])
        off, _ = endpoint_for(receiver, "off", events=["subscriber.created"])
        services.update_endpoint(off, active=False)
        assert emit("subscriber.created", {}) == 1
    assert list(WebhookDelivery.objects.values_list("endpoint__name", flat=True)) == ["wants"]


def test_a_post_held_by_a_worker_that_died_is_sent_after_its_lease():
    with Receiver() as receiver:
        endpoint_for(receiver)
        emit("subscriber.created", {"n": 1})
        row = WebhookDelivery.objects.get()
        now = time.time()
        # A worker took it (moved its due time to the lease) and died before posting.
        WebhookDelivery.objects.filter(pk=row.pk).update(next_attempt_at=now + 60)
        assert sender.deliver_due(now=now) == 0
        assert sender.deliver_due(now=now + 61) == 1
        receiver.wait_for(1)


def test_send_test_posts_at_once_and_logs_the_answer():
    with Receiver(["503"]) as receiver:
        endpoint, secret = endpoint_for(receiver)
        failed = services.send_test(endpoint)
        ok = services.send_test(endpoint)
        got = receiver.wait_for(2)
    assert (failed.state, failed.last_status) == (State.FAILED, 503)
    assert (ok.state, ok.last_status) == (State.DELIVERED, 200)
    assert got[1].json["type"] == "webhook.test"
    assert sender.deliver_due(now=time.time() + 10**6) == 0  # a failed test is not retried
    log = [services.delivery_json(d) for d in services.log(endpoint)]
    assert [entry["log"][0]["status"] for entry in log] == [200, 503]
    assert secret not in json.dumps(services.endpoint_json(endpoint))
