"""Webhook steps against a real HTTP receiver in this process: people pass through, each
delivery is queued with the person's move, arrives once, signed; a pass run again queues
nothing twice; bad input is refused and changes nothing."""

import time

import pytest

from postroom.automations import hooks, services
from postroom.automations.models import Enrolment, Step
from postroom.cli import main
from postroom.errors import InvalidInput, NotFound
from postroom.webhooks import sender, signing
from postroom.webhooks import services as webhooks
from postroom.webhooks.events import STEP
from postroom.webhooks.models import WebhookDelivery
from tests.automations.helpers import join
from tests.automations.test_engine import run_engine
from tests.delivery.helpers import make_audience
from tests.webhooks.receiver import Receiver

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def short_timeout(settings):
    settings.POSTROOM_WEBHOOK_TIMEOUT_SECONDS = 0.5


def crm_sequence(url: str):
    """welcome → call the CRM → tag: a joined:news sequence, active."""
    endpoint, secret = webhooks.create_endpoint("crm", url, ["subscriber.created"])
    automation = services.create(
        name="Onboarding", trigger="joined:news", from_email="hello@example.org"
    )
    services.add_step(automation, subject="Hi", body="Welcome.")
    services.add_step(automation, "webhook", endpoint="crm")
    services.add_step(automation, "tag", tag="synced")
    return services.activate(automation), endpoint, secret


def test_people_pass_a_webhook_step_and_each_delivery_arrives_once_signed():
    with Receiver() as receiver:
        news = make_audience(0)
        automation, _, secret = crm_sequence(receiver.url)
        people = join(news, 3, plan="gold")
        run_engine()
        run_engine()  # nothing left to do: no second delivery
        assert set(Enrolment.objects.values_list("state", flat=True)) == {"completed"}
        queued = WebhookDelivery.objects.filter(event=STEP)
        assert queued.count() == 3
        while sender.deliver_due():
            pass
        received = receiver.wait_for(3)
        time.sleep(0.2)
        assert len(receiver.received) == 3, "each person's call arrives once"

    by_email = {r.json["data"]["subscriber"]["email"]: r for r in received}
    assert set(by_email) == {p.email for p in people}
    got = by_email[people[0].email]
    body = got.json
    assert body["type"] == "automation.step"
    assert body["data"]["automation"] == {"id": automation.pk, "name": "Onboarding"}
    assert body["data"]["step"] == 2
    assert body["data"]["subscriber"]["id"] == people[0].pk
    assert body["data"]["subscriber"]["attributes"] == {"plan": "gold"}
    assert got.headers[signing.HEADER_ID] == body["id"]
    assert got.headers[signing.HEADER_EVENT] == "automation.step"
    stamp = got.headers[signing.HEADER_TIMESTAMP]
    assert signing.verify(
        secret, stamp, got.headers[signing.HEADER_SIGNATURE], got.body, time.time()
    )
    assert set(queued.values_list("state", flat=True)) == {"delivered"}
    assert len({r.json["id"] for r in received}) == 3


def test_a_pass_run_again_after_a_crash_queues_no_second_delivery():
    news = make_audience(0)
    automation, _, _ = crm_sequence("http://127.0.0.1:9/hook")
    [person] = join(news, 1)
    run_engine()
    enrolment = Enrolment.objects.get()
    step = automation.steps.get(kind=Step.Kind.WEBHOOK)
    call = hooks.Call(enrolment.pk, person.pk, enrolment.cycle, step, automation)
    first = WebhookDelivery.objects.get(event=STEP)
    assert first.event_id == hooks.event_id(enrolment.pk, step.pk, 0)
    # What a pass killed after its commit and run again would write: dropped by the key.
    hooks.queue([call])
    assert list(WebhookDelivery.objects.filter(event=STEP).values_list("pk", flat=True)) == [
        first.pk
    ]


def test_an_endpoint_that_fails_is_retried_with_back_off_as_any_event():
    with Receiver(["500", "200"]) as receiver:
        news = make_audience(0)
        crm_sequence(receiver.url)
        join(news, 1)
        run_engine()
        t0 = time.time()
        assert sender.deliver_due(now=t0) == 1
        row = WebhookDelivery.objects.get(event=STEP)
        assert (row.state, row.attempts, row.last_status) == ("pending", 1, 500)
        assert sender.deliver_due(now=row.next_attempt_at + 1) == 1
        received = receiver.wait_for(2)
    row.refresh_from_db()
    assert row.state == "delivered"
    assert received[0].json["id"] == received[1].json["id"]


def test_a_webhook_step_needs_a_known_endpoint_and_nothing_is_saved_otherwise():
    automation = services.create(name="Hooks", trigger="api", from_email="a@example.org")
    with pytest.raises(InvalidInput, match="needs the endpoint"):
        services.add_step(automation, "webhook")
    with pytest.raises(NotFound, match="no webhook endpoint 'nope'"):
        services.add_step(automation, "webhook", endpoint="nope")
    assert not automation.steps.exists()
    webhooks.create_endpoint("crm", "https://crm.example/in", ["subscriber.created"])
    step = services.add_step(automation, "webhook", endpoint="crm", wait="1h")
    assert services.describe_step(step) == "wait 1h; call the webhook “crm”"
    assert services.status(automation)["steps"][0]["endpoint"] == "crm"


def test_the_cli_adds_a_webhook_step_and_refuses_a_mix(capsys):
    automation = services.create(name="Hooks", trigger="api", from_email="a@example.org")
    webhooks.create_endpoint("crm", "https://crm.example/in", ["subscriber.created"])
    assert main(["automation", "step", str(automation.pk), "--webhook", "crm", "--json"]) == 0
    assert '"step": 1' in capsys.readouterr().out
    assert (
        main(["automation", "step", str(automation.pk), "--webhook", "crm", "--subject", "x"]) == 1
    )
    assert "takes no --subject" in capsys.readouterr().err
    assert main(["automation", "step", str(automation.pk)]) == 1
    assert "needs --subject and --body-file" in capsys.readouterr().err
    assert main(["automation", "step", str(automation.pk), "--webhook", "gone"]) == 1
    assert "no webhook endpoint 'gone'" in capsys.readouterr().err
    assert automation.steps.count() == 1
    assert automation.steps.get().kind == "webhook"


def test_an_inactive_endpoint_keeps_the_calls_until_it_is_active_again():
    news = make_audience(0)
    _, endpoint, _ = crm_sequence("http://127.0.0.1:9/hook")
    webhooks.update_endpoint(endpoint, active=False)
    join(news, 2)
    run_engine()
    assert WebhookDelivery.objects.filter(event=STEP, state="pending").count() == 2
    assert sender.deliver_due() == 0


def test_an_endpoint_a_step_calls_cannot_be_deleted(capsys):
    make_audience(0)
    _, endpoint, _ = crm_sequence("https://crm.example/in")
    with pytest.raises(InvalidInput, match="called by a sequence's webhook step"):
        webhooks.delete_endpoint(endpoint)
    assert main(["webhook", "remove", "crm"]) == 1
    assert "delete or change that step first" in capsys.readouterr().err
    assert webhooks.get_endpoint("crm").pk == endpoint.pk
