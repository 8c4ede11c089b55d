"""The CLI is the operator's path: it checks no role, and every command that changes
something is in the audit log as "cli:<OS user>", with what was typed (secrets masked)."""

import getpass

import pytest

from postroom.accounts.audit import cli_target
from postroom.accounts.models import AuditEntry

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_change_at_a_shell_is_recorded_with_the_os_user(run_cli, subprocess_env):
    added = run_cli("users", "add", "ed", "--role", "editor", env=subprocess_env)
    assert added.returncode == 0, added.stderr
    entry = AuditEntry.objects.get(action="cli users add")
    assert entry.username == f"cli:{getpass.getuser()}"
    assert entry.target == "users add ed --role editor"
    assert entry.detail == "done (exit 0)"
    assert entry.ip is None


def test_a_refused_command_is_recorded_as_not_done(run_cli, subprocess_env):
    refused = run_cli("users", "role", "ghost", "admin", env=subprocess_env)
    assert refused.returncode == 1
    assert refused.stderr.strip() == "postroom: no user named 'ghost'"
    entry = AuditEntry.objects.get(action="cli users role")
    assert entry.detail == "not done: no user named 'ghost'"


def test_reads_are_not_recorded(run_cli, subprocess_env):
    assert run_cli("users", "list", env=subprocess_env).returncode == 0
    assert run_cli("lists", "list", env=subprocess_env).returncode == 0
    assert not AuditEntry.objects.filter(action__startswith="cli").exists()


def test_secret_values_typed_on_the_command_line_are_masked():
    assert cli_target(["webhook", "add", "https://x", "--secret", "s3cr3t"]) == (
        "webhook add https://x --secret ***"
    )
    assert cli_target(["x", "--api-token=abc", "--password-env", "POSTROOM_SMTP_A"]) == (
        "x --api-token=*** --password-env POSTROOM_SMTP_A"
    )
