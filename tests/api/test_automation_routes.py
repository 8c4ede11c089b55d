"""/api/automations: define a sequence, enrol people by API, read where everyone is."""

import pytest

from postroom.accounts.models import Role
from postroom.automations.models import Automation, Enrolment, Step
from postroom.delivery.models import Delivery
from postroom.webhooks import services as webhooks
from tests.automations.helpers import join
from tests.automations.test_engine import run_engine
from tests.delivery.helpers import make_audience

pytestmark = pytest.mark.django_db


def test_a_sequence_is_defined_activated_and_people_enrolled_by_the_api(api):
    news = make_audience(0)
    made = api.post(
        "/api/automations", {"name": "Onboarding", "trigger": "api", "from_email": "a@x.org"}
    )
    assert made.status_code == 201, made.content
    ident = made.json()["id"]
    step = api.post(
        f"/api/automations/{ident}/steps",
        {"subject": "Hello {{ subscriber.name }}", "body": "Welcome", "wait": "0"},
    )
    assert step.status_code == 201, step.content
    tag = api.post(f"/api/automations/{ident}/steps", {"kind": "tag", "tag": "onboarded"})
    assert tag.json()["text"] == "tag “onboarded”"
    assert api.post(f"/api/automations/{ident}/activate").json()["status"] == "active"
    ada, bob = join(news, 2)
    enrolled = api.post(f"/api/automations/{ident}/enrolments", {"email": ada.email})
    assert enrolled.status_code == 201, enrolled.content
    bob_in = api.post(f"/api/automations/{ident}/enrolments", {"subscriber_id": bob.pk})
    assert bob_in.status_code == 201
    again = api.post(f"/api/automations/{ident}/enrolments", {"email": ada.email})
    assert again.status_code == 409
    run_engine()
    status = api.get(f"/api/automations/{ident}").json()
    assert (status["enrolled"], status["completed"]) == (2, 2)
    assert (status["scanned_until"], status["skipped"]) == (None, None), "date triggers only"
    assert Delivery.objects.count() == 2
    csv = api.get(f"/api/automations/{ident}/positions.csv")
    lines = b"".join(csv.streaming_content).decode().splitlines()
    assert lines[0].startswith("email,cycle,state") and len(lines) == 3
    edited = api.put(
        f"/api/automations/{ident}/steps/1", {"subject": "Hi again", "body": "New text"}
    )
    assert edited.status_code == 200 and edited.json()["subject"] == "Hi again"
    assert api.post(f"/api/automations/{ident}/pause").json()["status"] == "paused"


def test_bad_input_is_refused_and_nothing_changes(api):
    make_audience(0)
    assert api.post("/api/automations", {"name": "X", "trigger": "left:x"}).status_code == 400
    made = api.post(
        "/api/automations", {"name": "X", "trigger": "api", "from_email": "a@x.org"}
    ).json()
    bad = api.post(f"/api/automations/{made['id']}/steps", {"subject": "S", "body": "{{ x"})
    assert bad.status_code == 400 and "cannot be built" in bad.json()["detail"]
    assert api.post(f"/api/automations/{made['id']}/activate").status_code == 400
    assert api.post(f"/api/automations/{made['id']}/enrolments", {"email": "a@b.c"}).status_code
    assert api.get("/api/automations/999").status_code == 404
    assert not Step.objects.exists() and not Enrolment.objects.exists()
    assert Automation.objects.get().status == "draft"


def test_viewers_read_editors_change_and_list_tokens_are_kept_out(token_for):
    news = make_audience(1)
    automation = Automation.objects.create(name="A", trigger="api", from_email="a@x.org")
    viewer = token_for(Role.VIEWER)
    assert viewer.get("/api/automations").status_code == 200
    assert viewer.get(f"/api/automations/{automation.pk}").status_code == 200
    assert viewer.post(f"/api/automations/{automation.pk}/activate").status_code == 403
    assert viewer.get(f"/api/automations/{automation.pk}/positions.csv").status_code == 403
    editor = token_for(Role.EDITOR)
    assert editor.get(f"/api/automations/{automation.pk}/positions.csv").status_code == 200
    narrowed = token_for(Role.OWNER, lists=[news])
    assert narrowed.get("/api/automations").status_code == 403
    assert narrowed.post(f"/api/automations/{automation.pk}/pause").status_code == 403
    read_only = token_for(Role.OWNER, scopes=["read"])
    assert read_only.post(f"/api/automations/{automation.pk}/activate").status_code == 403
    subscribers_only = token_for(Role.OWNER, scopes=["subscribers"])
    assert subscribers_only.get("/api/automations").status_code == 403


def test_steps_are_webhooks_windowed_sends_moved_and_deleted_by_the_api(api, token_for):
    news = make_audience(0)
    webhooks.create_endpoint("crm", "https://crm.example/in", ["subscriber.created"])
    ident = api.post(
        "/api/automations", {"name": "Steps", "trigger": "joined:news", "from_email": "a@x.org"}
    ).json()["id"]
    steps = f"/api/automations/{ident}/steps"
    sent = api.post(
        steps,
        {"subject": "Hi", "body": "Hello", "window": {"hours": "09:00-17:00", "days": "mon-fri"}},
    )
    assert sent.status_code == 201, sent.content
    assert sent.json()["window"]["hours"] == "09:00-17:00"
    assert sent.json()["window"]["days"] == ["mon", "tue", "wed", "thu", "fri"]
    hook = api.post(steps, {"kind": "webhook", "endpoint": "crm"})
    assert hook.status_code == 201, hook.content
    assert (hook.json()["endpoint"], hook.json()["text"]) == ("crm", "call the webhook “crm”")
    api.post(steps, {"kind": "tag", "tag": "done"})
    api.post(f"/api/automations/{ident}/activate")
    join(news, 2)
    run_engine()

    moved = api.post(f"{steps}/3/move", {"to": 1})
    assert moved.status_code == 200, moved.content
    assert [s["kind"] for s in moved.json()["steps"]] == ["tag", "send", "webhook"]
    assert [s["waiting"] for s in moved.json()["steps"]] == [0, 0, 0]
    gone = api.delete(f"{steps}/2")
    assert gone.status_code == 200, gone.content
    assert [s["kind"] for s in gone.json()["steps"]] == ["tag", "webhook"]
    assert Delivery.objects.filter(state="skipped").count() == 2, "queued, then not sent"

    viewer = token_for(Role.VIEWER)
    assert viewer.delete(f"{steps}/1").status_code == 403
    assert viewer.post(f"{steps}/1/move", {"to": 2}).status_code == 403
    assert Step.objects.count() == 2


def test_bad_step_changes_by_the_api_are_refused_and_change_nothing(api):
    make_audience(0)
    ident = api.post(
        "/api/automations", {"name": "S", "trigger": "api", "from_email": "a@x.org"}
    ).json()["id"]
    steps = f"/api/automations/{ident}/steps"
    api.post(steps, {"subject": "Hi", "body": "Hello"})
    bad = api.post(steps, {"subject": "Hi", "body": "x", "window": {"hours": "17:00-09:00"}})
    assert bad.status_code == 400 and "must end after it starts" in bad.json()["detail"]
    local = api.post(steps, {"subject": "Hi", "body": "x", "window": {"local_time": "09:00"}})
    assert local.status_code == 400 and "wait until it" in local.json()["detail"]
    nowhere = api.post(steps, {"kind": "webhook", "endpoint": "none"})
    assert nowhere.status_code == 404
    assert api.delete(f"{steps}/7").status_code == 400
    far = api.post(f"{steps}/1/move", {"to": 3})
    assert far.status_code == 400 and "there is no position 3" in far.json()["detail"]
    assert api.post(f"{steps}/1/move", {"to": 0}).status_code == 422
    assert list(Step.objects.values_list("position", "kind")) == [(1, "send")]
