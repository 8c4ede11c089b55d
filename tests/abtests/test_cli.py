"""`postroom campaign abtest …`: the A/B test from the command line, JSON and one-line errors."""

import json

import pytest

from postroom.abtests.models import ABTest
from tests.delivery.helpers import make_audience, make_campaign


@pytest.mark.django_db(transaction=True)
def test_a_test_is_made_varied_started_and_decided_from_the_command_line(
    run_cli, subprocess_env, tmp_path
):
    campaign = make_campaign(make_audience(10), subject="Subject A")
    body = tmp_path / "b.md"
    body.write_text("# Another hello")

    def cli(*args):
        done = run_cli("campaign", "abtest", *args, env=subprocess_env)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    made = cli("create", str(campaign.pk), "--count", "4", "--metric", "clicks", "--window",
               "4h", "--share", "B=3", "--json")  # fmt: skip
    assert (made["test_count"], made["window_minutes"], made["metric"]) == (4, 240, "clicks")
    assert [v["share"] for v in made["variants"]] == [1, 3]
    cli("variant", str(campaign.pk), "B", "--subject", "Subject B", "--body-file", str(body),
        "--json")  # fmt: skip
    started = cli("start", str(campaign.pk), "--json")
    assert [v["members"] for v in started["variants"]] == [1, 3]
    assert started["waiting_for"] == "the test window is still open"
    decided = cli("decide", str(campaign.pk), "--winner", "b", "--json")
    assert decided["winner"] == "B" and decided["decided_by_hand"] is True
    assert cli("status", str(campaign.pk), "--json")["rest"] == decided["rest"]
    text = run_cli("campaign", "abtest", "status", str(campaign.pk), env=subprocess_env).stdout
    assert "B  campaign" in text and "(winner)" in text
    assert "A and B are level so far; too early to tell" in text  # nothing sent: no figure yet
    assert decided["leader"] == "A" and decided["variants"][1]["confidence"] is None


@pytest.mark.django_db(transaction=True)
def test_bad_input_is_one_line_and_changes_nothing(run_cli, subprocess_env):
    campaign = make_campaign(make_audience(3))
    for args, message in [
        (["create", str(campaign.pk), "--variants", "6"], "2 to 4 variants"),
        (["create", str(campaign.pk), "--window", "soon"], "not a duration"),
        (["create", str(campaign.pk), "--share", "Z=2"], "no variant 'Z'"),
        (["status", str(campaign.pk)], "is not an A/B test"),
        (["start", "999999"], "is not an A/B test"),
    ]:
        done = run_cli("campaign", "abtest", *args, env=subprocess_env)
        assert done.returncode != 0 and message in done.stderr, (args, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert not ABTest.objects.exists()
