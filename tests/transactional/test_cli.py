"""`postroom tx send|status|template-add` in a subprocess, on the test's database."""

import json

import pytest

from postroom.delivery.models import OutboxMessage
from postroom.transactional.models import TxMessage
from tests.delivery.helpers import run_until_idle

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_sends_from_the_command_line_and_tells_the_status_as_json(
    run_cli, subprocess_env, tmp_path
):
    body = tmp_path / "receipt.md"
    body.write_text("Thanks, {{ data.name }}! Total: {{ data.total }}.")
    sent = run_cli(
        "tx", "send", "--to", "ada@example.net", "--subject", "Receipt {{ data.order }}",
        "--body-file", str(body), "--data", '{"name": "Ada", "total": "12 EUR", "order": 7}',
        "--from", "shop@example.org", "--json", env=subprocess_env,
    )  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    accepted = json.loads(sent.stdout)
    assert accepted["status"] == "queued" and accepted["duplicate"] is False

    run_until_idle()

    shown = run_cli("tx", "status", str(accepted["id"]), "--json", env=subprocess_env)
    status = json.loads(shown.stdout)
    assert status["status"] == "sent" and status["subject"] == "Receipt 7"
    assert TxMessage.objects.get().source == "cli"
    assert b"Thanks, Ada! Total: 12 EUR." in bytes(OutboxMessage.objects.get().data)


def test_a_stored_template_is_used_by_name(run_cli, subprocess_env, tmp_path):
    body = tmp_path / "reset.html"
    body.write_text("<p>Your code: {{ data.code }}</p>")
    added = run_cli(
        "tx", "template-add", "reset", "--subject", "Your code", "--body-file", str(body),
        "--format", "html", "--from", "Accounts <accounts@example.org>", "--json",
        env=subprocess_env,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    sent = run_cli(
        "tx", "send", "--to", "bob@example.net", "--template", "reset", "--data", '{"code": 4711}',
        env=subprocess_env,
    )  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    assert "queued" in sent.stdout
    message = TxMessage.objects.get()
    assert (message.template_id, message.from_name) == (json.loads(added.stdout)["id"], "Accounts")
    assert "Your code: 4711" in message.html


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--to", "ada@example.net", "--subject", "S", "--data", "[1]"], "--data must be a JSON"),
        (["--to", "ada@example.net", "--template", "missing"], "no transactional template"),
        (
            ["--to", "not-an-address", "--subject", "S", "--body-file", "/nonexistent"],
            "does not exist",
        ),
    ],
)
def test_bad_input_is_one_line_on_stderr_and_queues_nothing(run_cli, subprocess_env, args, says):
    done = run_cli("tx", "send", *args, env=subprocess_env)
    assert done.returncode != 0
    assert says in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not TxMessage.objects.exists()


def test_status_of_an_unknown_message_says_so(run_cli, subprocess_env):
    done = run_cli("tx", "status", "424242", "--json", env=subprocess_env)
    assert done.returncode != 0 and "no transactional message with id 424242" in done.stderr
