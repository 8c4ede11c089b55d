"""`postroom createadmin` and the first run's admin, against the real test database."""

import os
import pty
import select
import signal
import sys
import time

import pytest
from django.contrib.auth import authenticate, get_user_model

from postroom.web.cli import ensure_first_admin

pytestmark = pytest.mark.django_db(transaction=True)


def password_from(output: str) -> str:
    line = next(line for line in output.splitlines() if line.startswith("Password: "))
    return line.removeprefix("Password: ")


def test_it_generates_and_prints_a_password_without_a_terminal(run_cli, subprocess_env):
    result = run_cli(
        "createadmin", "--username", "ops", "--email", "ops@example.org", env=subprocess_env
    )
    assert result.returncode == 0, result.stderr
    user = authenticate(username="ops", password=password_from(result.stdout))
    assert user is not None
    assert user.is_staff and user.is_superuser
    assert user.email == "ops@example.org"


def test_it_takes_the_password_from_an_environment_variable(run_cli, subprocess_env):
    subprocess_env["OPS_PASSWORD"] = "a long enough passphrase"
    result = run_cli("createadmin", "--password-env", "OPS_PASSWORD", env=subprocess_env)
    assert result.returncode == 0, result.stderr
    assert "Password:" not in result.stdout
    assert authenticate(username="admin", password="a long enough passphrase") is not None


def test_it_refuses_an_existing_user_without_reset(run_cli, subprocess_env, owner):
    result = run_cli("createadmin", "--username", "owner", env=subprocess_env)
    assert result.returncode == 1
    assert "already exists" in result.stderr
    assert authenticate(username="owner", password="pw-owner-1") is not None


def test_reset_gives_an_existing_user_a_new_password(run_cli, subprocess_env, owner):
    result = run_cli("createadmin", "--username", "owner", "--reset", env=subprocess_env)
    assert result.returncode == 0, result.stderr
    assert authenticate(username="owner", password="pw-owner-1") is None
    assert authenticate(username="owner", password=password_from(result.stdout)) is not None


def test_it_refuses_a_weak_password_and_creates_nothing(run_cli, subprocess_env):
    subprocess_env["WEAK"] = "password"
    result = run_cli("createadmin", "--password-env", "WEAK", env=subprocess_env)
    assert result.returncode == 1
    assert result.stderr.startswith("postroom: password refused:")
    assert not get_user_model().objects.filter(username="admin").exists()


def test_it_refuses_a_bad_email_address(run_cli, subprocess_env):
    result = run_cli("createadmin", "--email", "not-an-address", env=subprocess_env)
    assert result.returncode == 1
    assert "not a valid email address" in result.stderr


def test_the_first_run_creates_admin_once():
    password = ensure_first_admin()
    assert password
    assert authenticate(username="admin", password=password).is_superuser
    assert ensure_first_admin() is None


def test_the_first_run_creates_no_admin_when_an_operator_exists(teammate):
    assert ensure_first_admin() is None
    assert not get_user_model().objects.filter(username="admin").exists()


def run_on_a_terminal(args: list[str], env: dict[str, str], answers: list[str]) -> tuple[int, str]:
    """Run `postroom ARGS` with a pseudo-terminal as its controlling terminal, typing `answers`."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: become postroom
        os.execve(sys.executable, [sys.executable, "-m", "postroom.cli", *args], env)
    output = b""
    pending = list(answers)
    answered = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            os.kill(pid, signal.SIGKILL)  # never hang the suite on a prompt we did not expect
            break
        try:
            chunk = os.read(fd, 1024)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
        # Answer a prompt only once it is complete, and only a new one.
        if pending and output[answered:].rstrip().endswith(b":"):
            os.write(fd, pending.pop(0).encode() + b"\n")
            answered = len(output)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), output.decode(errors="replace")


def test_it_asks_for_the_password_on_a_terminal(subprocess_env):
    answer = "typed on a terminal 42"
    code, output = run_on_a_terminal(
        ["createadmin", "--username", "typist"], subprocess_env, [answer, answer]
    )
    assert code == 0, output
    assert "Password again" in output
    assert answer not in output  # not echoed
    assert authenticate(username="typist", password=answer) is not None


def test_two_different_answers_change_nothing(subprocess_env):
    code, output = run_on_a_terminal(
        ["createadmin", "--username", "typist"], subprocess_env, ["first try 1234", "second 5678"]
    )
    assert code == 1
    assert "the two passwords differ" in output
    assert not get_user_model().objects.filter(username="typist").exists()
