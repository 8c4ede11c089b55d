"""The automations pages: create, add and edit steps, activate and pause, who is where, CSV."""

import pytest
from django.urls import reverse

from postroom.accounts.models import Profile, Role
from postroom.automations.models import Automation, Enrolment, Step
from tests.automations.helpers import join
from tests.automations.test_engine import run_engine
from tests.delivery.helpers import make_audience

pytestmark = pytest.mark.django_db


def test_a_sequence_is_built_run_and_watched_from_the_pages(owner_client):
    news = make_audience(1)
    made = owner_client.post(
        reverse("automation_new"),
        {"name": "Welcome", "trigger": "joined", "mailing_list": "news", "local_hour": "9",
         "from_email": "hello@example.org"},
    )  # fmt: skip
    automation = Automation.objects.get()
    assert made.status_code == 302 and made["Location"] == reverse(
        "automation_detail", args=[automation.pk]
    )
    page = reverse("automation_detail", args=[automation.pk])
    send = {"kind": "send", "wait": "0", "subject": "Hello {{ subscriber.name }}",
            "body": "Welcome!", "body_format": "markdown"}  # fmt: skip
    assert owner_client.post(page, send).status_code == 302
    later = {**send, "subject": "A week in", "wait": "7d", "wait_time": "09:00",
             "wait_weekdays": "mon,fri"}  # fmt: skip
    assert owner_client.post(page, later).status_code == 302
    owner_client.post(reverse("automation_activate", args=[automation.pk]))
    join(news, 2)
    run_engine()
    shown = owner_client.get(page).content.decode()
    assert "1. send “Hello {{ subscriber.name }}”" in shown
    assert "2. wait 1w, then until Mon/Fri 09:00 local time; send “A week in”" in shown
    assert 'id="live-warning"' in shown and "keep their place" in shown
    assert "joiner0@example.net" in shown and "2 waiting for it" in shown
    edit = reverse("automation_step", args=[automation.pk, 2])
    assert 'id="live-warning"' in owner_client.get(edit).content.decode()
    assert owner_client.post(edit, {**later, "subject": "Seven days"}).status_code == 302
    assert Step.objects.get(position=2).subject == "Seven days"
    csv = b"".join(owner_client.get(reverse("automation_positions", args=[automation.pk])))
    lines = csv.decode().splitlines()
    assert lines[0] == "email,cycle,state,step,next_at,entered_at,reason" and len(lines) == 3
    owner_client.post(reverse("automation_pause", args=[automation.pk]))
    assert Automation.objects.get().status == "paused"
    assert "Welcome" in owner_client.get(reverse("automations")).content.decode()


def test_bad_input_shows_why_and_changes_nothing(owner_client):
    make_audience(0)
    refused = owner_client.post(
        reverse("automation_new"),
        {"name": "X", "trigger": "joined", "local_hour": "9", "from_email": "a@x.org"},
    )
    assert refused.status_code == 200 and "needs a name" in refused.content.decode()
    assert not Automation.objects.exists()
    automation = Automation.objects.create(name="A", trigger="api", from_email="a@x.org")
    page = reverse("automation_detail", args=[automation.pk])
    bad = owner_client.post(page, {"kind": "send", "wait": "soon", "subject": "S", "body": "b",
                                   "body_format": "markdown"})  # fmt: skip
    assert bad.status_code == 200 and "a wait looks like" in bad.content.decode()
    activated = owner_client.post(reverse("automation_activate", args=[automation.pk]))
    assert "has no steps" in owner_client.get(activated["Location"]).content.decode()
    assert not Step.objects.exists() and not Enrolment.objects.exists()


def test_a_user_limited_to_some_lists_cannot_open_sequences(client, django_user_model):
    news = make_audience(0)
    user = django_user_model.objects.create_user("lena", "lena@example.org", is_staff=True)
    Profile.objects.create(user=user, role=Role.EDITOR).lists.add(news)
    client.force_login(user)
    assert client.get(reverse("automations")).status_code == 403
