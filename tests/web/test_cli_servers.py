"""`postroom run` and `postroom serve` start real servers and stop cleanly on SIGTERM."""

import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from django.contrib.auth import authenticate

pytestmark = pytest.mark.django_db(transaction=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "postroom.cli", *args],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def read_until(process: subprocess.Popen, marker: str, timeout: float = 60) -> list[str]:
    """Lines printed up to and including the first one containing `marker`."""
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        lines.append(line.rstrip("\n"))
        if marker in line:
            return lines
    raise AssertionError(f"{marker!r} never printed; output:\n" + "\n".join(lines))


def wait_for_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port}")


def get(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.headers["Content-Type"], response.read()


def stop(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=45)
    finally:
        if process.poll() is None:
            process.kill()
        process.stdout.close()


def port_is_closed(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return False
    except OSError:
        return True


def test_run_creates_an_admin_serves_the_ui_and_stops_cleanly(subprocess_env):
    port = free_port()
    process = start(["run", "--port", str(port)], subprocess_env)
    try:
        lines = read_until(process, "Press Ctrl-C to stop.")
        assert f"Postroom is running at http://127.0.0.1:{port}/" in "\n".join(lines)
        marker = lines.index(next(line for line in lines if "one-time password" in line))
        password = lines[marker + 1].strip()
        assert authenticate(username="admin", password=password) is not None

        status, _, body = get(f"http://127.0.0.1:{port}/login/")
        assert status == 200
        assert b"Log in" in body
    finally:
        code = stop(process)
    assert code == 0
    assert port_is_closed(port)


def test_serve_serves_pages_and_static_files_then_stops_cleanly(subprocess_env):
    port = free_port()
    process = start(["serve", "--port", str(port), "--workers", "1"], subprocess_env)
    try:
        wait_for_port(port)
        status, content_type, body = get(f"http://127.0.0.1:{port}/static/postroom/app.css")
        assert status == 200
        assert content_type.startswith("text/css")
        assert b".badge" in body
        status, _, body = get(f"http://127.0.0.1:{port}/login/")
        assert status == 200
        assert b'name="csrfmiddlewaretoken"' in body
    finally:
        code = stop(process)
    assert code == 0
    assert port_is_closed(port)
