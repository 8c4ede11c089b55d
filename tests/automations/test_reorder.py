"""Deleting and moving steps of a live sequence: people waiting at a deleted step go on to
the next one, a move keeps everyone at their step, nobody gets a step twice, ledgers stay;
a change that would break a branch or names no step is refused and changes nothing."""

from datetime import timedelta

import pytest
from django.utils import timezone

from postroom.automations import reorder, services
from postroom.automations.models import Enrolment, StepCampaign
from postroom.cli import main
from postroom.delivery.models import Delivery
from postroom.errors import InvalidInput
from tests.automations.helpers import fast_forward, join, welcome
from tests.automations.test_engine import run_engine
from tests.delivery.helpers import make_audience

pytestmark = pytest.mark.django_db


def subjects(automation) -> list[str]:
    return list(automation.steps.order_by("position").values_list("subject", flat=True))


def snapshot(automation) -> tuple:
    """Everything a refused change must leave as it was."""
    return (
        list(
            automation.steps.order_by("position").values_list("pk", "position", "goto", "condition")
        ),
        list(Enrolment.objects.order_by("pk").values_list("position", "state", "next_at")),
        list(Delivery.objects.order_by("pk").values_list("state", flat=True)),
    )


def started(count: int = 2):
    """Three sends a day apart; `count` people were sent step 1 and wait for step 2."""
    news = make_audience(0)
    automation = welcome(news)
    people = join(news, count)
    run_engine()
    assert set(Enrolment.objects.values_list("position", flat=True)) == {2}
    return automation, people


def test_people_waiting_at_a_deleted_step_wait_for_the_next_one_and_the_sent_stay_recorded():
    automation, _ = started()
    before = timezone.now()

    reorder.delete_step(automation, 2)

    assert subjects(automation) == [
        "Welcome 1, {{ subscriber.name }}",
        "Welcome 3, {{ subscriber.name }}",
    ]
    for e in Enrolment.objects.all():
        assert (e.position, e.state) == (2, "active"), "now waiting for the old step 3"
        # The next step's wait (a day) counts from the deletion.
        assert before + timedelta(days=1) <= e.next_at <= timezone.now() + timedelta(days=1)
    fast_forward(automation, timezone.now())
    run_engine()
    assert set(Enrolment.objects.values_list("state", flat=True)) == {"completed"}
    sent = sorted(
        Delivery.objects.values_list("campaign__automation_step__step__subject", flat=True)
    )
    assert (
        sent == ["Welcome 1, {{ subscriber.name }}"] * 2 + ["Welcome 3, {{ subscriber.name }}"] * 2
    )


def test_deleting_a_send_step_keeps_its_ledger_and_skips_what_it_had_not_sent():
    automation, _ = started()
    link = StepCampaign.objects.get(step__position=1)
    assert Delivery.objects.filter(campaign_id=link.campaign_id).count() == 2  # pending

    reorder.delete_step(automation, 1)

    link.refresh_from_db()
    assert link.step is None, "the campaign and its ledger stay, with no step"
    rows = Delivery.objects.filter(campaign_id=link.campaign_id)
    assert [(r.state, r.error) for r in rows] == [("skipped", "cancelled")] * 2
    assert link.campaign.__class__.objects.get(pk=link.campaign_id).status == "cancelled"
    assert set(Enrolment.objects.values_list("position", flat=True)) == {1}, "renumbered"


def test_deleting_the_last_step_completes_who_waited_for_it():
    automation, _ = started()
    reorder.delete_step(automation, 3)
    reorder.delete_step(automation, 2)
    assert set(Enrolment.objects.values_list("state", "reason")) == {
        ("completed", "its last step was deleted")
    }


def test_a_move_keeps_everyone_at_their_step_and_nobody_gets_a_step_twice():
    automation, _ = started()
    waiting_for = automation.steps.get(position=2).pk

    reorder.move_step(automation, 1, 3)  # the step they were sent goes last

    assert subjects(automation)[2] == "Welcome 1, {{ subscriber.name }}"
    assert automation.steps.get(pk=waiting_for).position == 1
    assert set(Enrolment.objects.values_list("position", flat=True)) == {1}
    for _ in range(3):
        fast_forward(automation, timezone.now())
        run_engine()
    assert set(Enrolment.objects.values_list("state", flat=True)) == {"completed"}
    # Three steps, two people, six rows: the moved step was not queued again.
    assert Delivery.objects.count() == 6
    counts = services.status(automation)["steps"]
    assert [s["position"] for s in counts] == [1, 2, 3]


def test_a_branch_follows_the_steps_it_names_when_they_move():
    automation, _ = started()
    branch = services.add_step(automation, "branch", condition={"if": "opened", "step": 1}, goto=2)
    reorder.move_step(automation, 3, 2)
    branch.refresh_from_db()
    assert branch.condition == {"if": "opened", "step": 1}
    assert branch.goto == 3, "it still goes to the step that was 2"


def test_changes_that_would_break_a_branch_or_name_no_step_change_nothing():
    automation, _ = started()
    services.add_step(automation, "branch", condition={"if": "opened", "step": 1}, goto=3)
    before = snapshot(automation)
    with pytest.raises(InvalidInput, match=r"step 4 \(a branch\) goes to step 3"):
        reorder.delete_step(automation, 3)
    with pytest.raises(InvalidInput, match=r"step 4 \(a branch\) tests step 1"):
        reorder.delete_step(automation, 1)
    with pytest.raises(InvalidInput, match="would no longer come before it"):
        reorder.move_step(automation, 1, 4)
    with pytest.raises(InvalidInput, match="steps 1 to 4: there is no step 5"):
        reorder.delete_step(automation, 5)
    with pytest.raises(InvalidInput, match="steps 1 to 4: there is no position 0"):
        reorder.move_step(automation, 2, 0)
    with pytest.raises(InvalidInput, match="is a number"):
        reorder.move_step(automation, 2, "two")
    assert snapshot(automation) == before


def test_the_cli_deletes_and_moves_steps(capsys):
    automation, _ = started()
    assert main(["automation", "step-move", str(automation.pk), "3", "--to", "1"]) == 0
    out = capsys.readouterr().out
    assert "step 3 is now step 1" in out and "1. wait 1d; send “Welcome 3" in out
    assert main(["automation", "step-delete", str(automation.pk), "2", "--json"]) == 0
    assert '"position": 2' in capsys.readouterr().out
    assert main(["automation", "step-delete", str(automation.pk), "9"]) == 1
    assert capsys.readouterr().err.strip() == (
        "postroom: the sequence has steps 1 to 2: there is no step 9"
    )
    assert subjects(automation) == [
        "Welcome 3, {{ subscriber.name }}",
        "Welcome 2, {{ subscriber.name }}",
    ]
