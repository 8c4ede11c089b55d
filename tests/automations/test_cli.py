"""The command-line contract: `postroom automation create|step|activate|pause|status`."""

import json

import pytest

from postroom.automations.models import Automation, Step
from tests.delivery.helpers import make_audience


@pytest.fixture
def cli(run_cli, subprocess_env):
    def run(*args: str):
        return run_cli("automation", *args, env=subprocess_env)

    return run


def test_create_step_activate_pause_and_status(cli, tmp_path):
    make_audience(2)
    body = tmp_path / "welcome.md"
    body.write_text("# Welcome, {{ subscriber.name }}")
    made = cli("create", "--name", "Welcome", "--trigger", "joined:news",
               "--from", "hello@example.org", "--json")  # fmt: skip
    assert made.returncode == 0, made.stderr
    ident = str(json.loads(made.stdout)["id"])
    for wait in ("0", "2d"):
        added = cli("step", ident, "--subject", "Hi", "--body-file", str(body), "--wait", wait)
        assert added.returncode == 0, added.stderr
    assert cli("activate", ident).returncode == 0
    shown = cli("status", ident, "--json")
    data = json.loads(shown.stdout)
    assert {k: data[k] for k in ("status", "enrolled", "completed")} == {
        "status": "active",
        "enrolled": 0,
        "completed": 0,
    }
    assert [(s["position"], s["kind"], s["wait"]) for s in data["steps"]] == [
        (1, "send", ""),
        (2, "send", "wait 2d"),
    ]
    assert cli("pause", ident).returncode == 0
    assert Automation.objects.get().status == "paused"
    assert "Welcome" in cli("status", ident).stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["create", "--name", "X", "--trigger", "left:news", "--from", "a@x.org"], "trigger"),
        (["create", "--name", "X", "--trigger", "joined:nope", "--from", "a@x.org"], "nope"),
        (["create", "--name", "X", "--trigger", "date:birth day", "--from", "a@x.org"], "attr"),
        (["create", "--name", "X", "--trigger", "api", "--from", "nobody"], "address"),
        (["step", "99", "--subject", "S", "--body-file", "/dev/null"], "no automation"),
        (["activate", "99"], "no automation"),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(cli, args, message):
    make_audience(1)
    done = cli(*args)
    assert done.returncode != 0
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert message in done.stderr
    assert not Automation.objects.exists()


def test_a_bad_step_is_refused_and_the_sequence_unchanged(cli, tmp_path):
    made = cli("create", "--name", "D", "--trigger", "date:birthday", "--from", "a@x.org",
               "--json")  # fmt: skip
    ident = str(json.loads(made.stdout)["id"])
    body = tmp_path / "b.md"
    body.write_text("Hello {{ subscriber.name ")
    for extra in (["--body-file", str(body)], ["--body-file", str(tmp_path / "missing.md")],
                  ["--body-file", str(body), "--wait", "3 days"]):  # fmt: skip
        done = cli("step", ident, "--subject", "Happy birthday", *extra)
        assert done.returncode == 1 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not Step.objects.exists()
    assert "no steps" in cli("activate", ident).stderr
