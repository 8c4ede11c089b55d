"""/api/automations: define a sequence, enrol people by API, read where everyone is."""

import pytest

from postroom.accounts.models import Role
from postroom.automations.models import Automation, Enrolment, Step
from postroom.delivery.models import Delivery
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
