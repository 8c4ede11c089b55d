"""A broken environment gives one clear line on stderr and a non-zero exit, never a traceback."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest


def env_with(tmp_path, **overrides: str) -> dict[str, str]:
    env = {**os.environ, "POSTROOM_DATA_DIR": str(tmp_path / "var")}
    env.update(overrides)
    return env


def assert_one_line_error(result, *fragments: str) -> None:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("postroom: ")
    assert "Traceback" not in result.stderr + result.stdout
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mysql://user:pw@localhost/db", "not mysql://"),
        ("garbage", "DATABASE_URL must look like"),
        ("postgresql://", "names no database"),
        ("sqlite:////no/such/folder/db.sqlite3", "/no/such/folder"),
    ],
)
def test_a_wrong_database_url_is_one_line(run_cli, tmp_path, url, expected):
    result = run_cli("check", env=env_with(tmp_path, DATABASE_URL=url))
    assert_one_line_error(result, expected)


def test_the_database_password_is_never_echoed(run_cli, tmp_path):
    result = run_cli("migrate", env=env_with(tmp_path, DATABASE_URL="mysql://u:s3cret@h/db"))
    assert_one_line_error(result)
    assert "s3cret" not in result.stderr


def test_an_unreachable_postgresql_is_one_line(run_cli, tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql://u:s3cret@127.0.0.1:{port}/db"
    result = run_cli("migrate", env=env_with(tmp_path, DATABASE_URL=url))
    assert_one_line_error(result, "database error", "refused")
    assert "s3cret" not in result.stderr


def test_a_read_only_data_directory_is_one_line(tmp_path):
    folder = tmp_path / "read-only"
    folder.mkdir()
    env = env_with(tmp_path, POSTROOM_DATA_DIR=str(folder))
    env.pop("DATABASE_URL", None)
    env.pop("SECRET_KEY", None)
    argv = [sys.executable, "-m", "postroom.cli", "migrate"]
    if os.geteuid() == 0:
        # Root writes through file modes, so make the folder truly read-only in a
        # private mount namespace (as a read-only disk or container volume would be).
        script = 'mount --bind "$0" "$0" && mount -o remount,ro,bind "$0" "$0" && exec "$@"'
        argv = ["unshare", "--mount", "sh", "-c", script, str(folder), *argv]
    else:
        folder.chmod(0o555)
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    folder.chmod(0o755)
    assert_one_line_error(result, str(folder), "not writable", "POSTROOM_DATA_DIR")


def test_processes_starting_together_on_a_new_data_directory_share_one_secret_key(tmp_path):
    """`postroom run` starts its children at once, and each may be the first: none fails
    on the folder another just made, and all sign with the one key that was kept."""
    folder = tmp_path / "new" / "var"
    env = env_with(
        tmp_path, POSTROOM_DATA_DIR=str(folder), DJANGO_SETTINGS_MODULE="postroom.settings"
    )
    env.pop("SECRET_KEY", None)
    script = "from django.conf import settings; print(settings.SECRET_KEY)"
    starts = [
        subprocess.Popen(
            [sys.executable, "-c", script],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(12)
    ]
    results = [(start.communicate(timeout=60), start.returncode) for start in starts]
    assert [code for _, code in results] == [0] * 12, [err for (_, err), _ in results]
    keys = {out.strip() for (out, _), _ in results}
    kept = (folder / "secret_key").read_text().strip()
    assert keys == {kept} and len(kept) > 40
    assert (folder / "secret_key").stat().st_mode & 0o777 == 0o600
    assert sorted(path.name for path in folder.iterdir()) == ["secret_key"]


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("DEBUG", "maybe", "DEBUG must be true or false"),
        # These were read by the modules using them, so a typo showed only as a failing
        # request or send; read in settings, it stops the process at once.
        ("BEHIND_PROXY", "perhaps", "BEHIND_PROXY must be true or false"),
        ("POSTROOM_SUBSCRIBE_LIMIT", "ten", "POSTROOM_SUBSCRIBE_LIMIT must be a whole number"),
        ("POSTROOM_RATE_MARGIN_MS", "0.2s", "POSTROOM_RATE_MARGIN_MS must be a whole number"),
    ],
)
def test_a_malformed_setting_is_one_line(run_cli, tmp_path, name, value, expected):
    result = run_cli("check", env=env_with(tmp_path, **{name: value}))
    assert_one_line_error(result, expected)


def test_a_busy_port_is_one_line(run_cli, tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli("run", "--port", str(port), env=env_with(tmp_path))
    assert_one_line_error(result, f"127.0.0.1:{port}", "--port")


def test_serve_refuses_a_database_that_needs_migrating(run_cli, tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    result = run_cli("serve", "--port", "1", env=env_with(tmp_path, DATABASE_URL=url))
    assert_one_line_error(result, "postroom migrate")


def test_the_console_script_is_installed_and_helps():
    script = Path(sys.executable).parent / "postroom"
    result = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for command in ("run", "serve", "createadmin", "migrate", "check"):
        assert command in result.stdout


@pytest.mark.parametrize("command", ["run", "serve", "createadmin", "migrate", "check"])
def test_every_command_has_help(run_cli, command):
    result = run_cli(command, "--help")
    assert result.returncode == 0
    assert "usage: postroom " + command in result.stdout
