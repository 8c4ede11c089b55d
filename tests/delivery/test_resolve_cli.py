"""`postroom campaign resolve ID --delivered|--resend [--email ADDRESS ...] [--yes] [--json]`."""

import json
import os
import pty
import subprocess
import sys

import pytest

from postroom.delivery.models import CampaignEvent, Delivery
from postroom.testing.smtpserver import CaptureServer
from tests.delivery.helpers import finished_with_doubt

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

DROPPED = ["user0@example.net", "user2@example.net"]


@pytest.fixture
def campaign():
    with CaptureServer(drop_data=dict.fromkeys(DROPPED, 1)) as server:
        yield finished_with_doubt(server, count=4)


def states(campaign) -> list[str]:
    return [Delivery.objects.get(campaign=campaign, email=e).state for e in DROPPED]


def test_it_marks_one_address_delivered_and_prints_json(run_cli, subprocess_env, campaign):
    result = run_cli(
        "campaign", "resolve", str(campaign.pk), "--delivered", "--email", DROPPED[1], "--json",
        env=subprocess_env,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "id": campaign.pk, "status": "finished", "outcome": "delivered", "resolved": 1
    }  # fmt: skip
    assert states(campaign) == ["in_doubt", "sent"]
    marked = Delivery.objects.get(campaign=campaign, email=DROPPED[1])
    assert "(command line) on " in marked.error and marked.error.startswith("marked delivered by")
    listed = run_cli("campaign", "deliveries", str(campaign.pk), "--state", "sent",
                     env=subprocess_env)  # fmt: skip
    line = next(x for x in listed.stdout.splitlines() if x.startswith(DROPPED[1]))
    assert "marked delivered by" in line


def test_all_rows_need_a_confirmation_then_go_out_again(run_cli, subprocess_env, campaign):
    refused = run_cli("campaign", "resolve", str(campaign.pk), "--resend", env=subprocess_env)

    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1 and "--yes" in refused.stderr
    assert "Send all 2 recipients in doubt" in refused.stderr
    assert states(campaign) == ["in_doubt", "in_doubt"]

    done = run_cli("campaign", "resolve", str(campaign.pk), "--resend", "--yes", env=subprocess_env)

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        f"2 recipients in doubt queued again; campaign {campaign.pk} is running"
    )
    assert states(campaign) == ["pending", "pending"]
    assert CampaignEvent.objects.filter(campaign=campaign, kind="resolved").count() == 1


def answer_on_a_terminal(env, answer: str, *args: str) -> subprocess.CompletedProcess:
    """Run `postroom ARGS` with a terminal as stdin, typing `answer` at its question."""
    terminal, child = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "postroom.cli", *args],
            stdin=child, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
        )  # fmt: skip
        os.write(terminal, answer.encode() + b"\n")
        out, err = process.communicate(timeout=60)
    finally:
        os.close(child)
        os.close(terminal)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def test_on_a_terminal_it_asks_and_only_yes_settles_them(subprocess_env, campaign):
    args = ("campaign", "resolve", str(campaign.pk), "--delivered")

    declined = answer_on_a_terminal(subprocess_env, "n", *args)

    assert "Mark all 2 recipients in doubt in 'Spring news' as delivered? [y/N]" in declined.stdout
    assert declined.returncode == 1 and declined.stderr == "postroom: nothing changed\n"
    assert states(campaign) == ["in_doubt", "in_doubt"]

    accepted = answer_on_a_terminal(subprocess_env, "y", *args)

    assert accepted.returncode == 0, accepted.stderr
    assert "2 recipients in doubt marked delivered" in accepted.stdout
    assert states(campaign) == ["sent", "sent"]


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["999", "--delivered"], "postroom: campaign 999 does not exist"),
        (["abc", "--resend", "--yes"], "postroom: campaign abc does not exist"),
        (
            ["{id}", "--resend", "--email", "user1@example.net"],
            "postroom: user1@example.net is not in doubt in campaign {id} (it is sent)",
        ),
        (
            ["{id}", "--delivered", "--email", DROPPED[0], "--email", "ghost@example.org"],
            "postroom: ghost@example.org is not in doubt in campaign {id}"
            " (it is not one of its recipients)",
        ),
    ],
)
def test_a_bad_request_is_one_line_on_stderr_and_changes_nothing(
    run_cli, subprocess_env, campaign, args, error
):
    argv = [a.format(id=campaign.pk) for a in args]

    result = run_cli("campaign", "resolve", *argv, env=subprocess_env)

    assert result.returncode == 1
    assert result.stderr == error.format(id=campaign.pk) + "\n"
    assert result.stdout == ""
    assert states(campaign) == ["in_doubt", "in_doubt"]
    assert not CampaignEvent.objects.filter(campaign=campaign, kind="resolved").exists()


def test_nothing_in_doubt_and_a_missing_outcome_are_refused(run_cli, subprocess_env, campaign):
    cid = str(campaign.pk)
    assert (
        run_cli("campaign", "resolve", cid, "--delivered", "--yes", env=subprocess_env).returncode
        == 0
    )

    again = run_cli("campaign", "resolve", cid, "--delivered", "--yes", env=subprocess_env)
    neither = run_cli("campaign", "resolve", cid, env=subprocess_env)

    assert again.returncode == 1
    assert again.stderr == f"postroom: nothing is in doubt in campaign {cid}\n"
    assert neither.returncode == 2 and "--delivered" in neither.stderr
