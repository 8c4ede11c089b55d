"""Files private to Postroom's user, and SMTP passwords only from allowed variables."""

import os
import stat

import pytest

from postroom.delivery.models import Sender
from postroom.delivery.transports.smtp import SmtpTransport
from postroom.errors import InvalidInput


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_fresh_data_directory_and_its_files_are_private(run_cli, tmp_path):
    result = run_cli("migrate")
    assert result.returncode == 0, result.stderr
    data = tmp_path / "cli-var"
    assert mode(data) == 0o700
    files = [p for p in data.rglob("*") if p.is_file()]
    assert any(p.name == "postroom.sqlite3" for p in files)
    assert {p.name: mode(p) for p in files} == {p.name: 0o600 for p in files}


def test_a_sender_cannot_read_a_variable_outside_the_allowed_prefix(run_cli, subprocess_env):
    result = run_cli(
        "sender",
        "add",
        "leak",
        "--host",
        "127.0.0.1",
        "--port",
        "2525",
        "--user",
        "u",
        "--password-env",
        "SECRET_KEY",
        env=subprocess_env,
    )
    assert result.returncode != 0
    assert "must be named POSTROOM_SMTP_" in result.stderr
    assert not Sender.objects.exists()


@pytest.mark.django_db
def test_a_sender_stored_before_the_rule_is_refused_at_send_time(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "the server's secret")
    sender = Sender.objects.create(
        name="old", host="127.0.0.1", port=2525, username="u", password_env="SECRET_KEY"
    )
    with pytest.raises(InvalidInput, match="must be named POSTROOM_SMTP_"):
        SmtpTransport(sender)
