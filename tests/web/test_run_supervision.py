"""`postroom run` survives its children: a killed worker or web server comes back by itself,
the other one goes on, and the admins are told."""

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from django.test import Client

from postroom.alerts.models import Alert
from postroom.delivery import control, ratelimit
from postroom.delivery.models import Delivery, OutboxMessage, Worker
from tests.delivery.helpers import make_audience, make_campaign, smtp_sender
from tests.delivery.processes import RecordingServer
from tests.web.test_cli_servers import free_port, port_is_closed

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 90  # seconds; generous for a loaded 2-core machine


class Run:
    """A real `postroom run` subprocess whose output is collected by a thread."""

    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "postroom.cli", "run", "--port", str(self.port)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def child(self, marker: str) -> int | None:
        """The pid of the child whose command line contains `marker`, if one runs."""
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except (OSError, IndexError, ValueError):
                continue
            if ppid == self.process.pid and marker in cmdline:
                return int(entry.name)
        return None

    def get(self, path: str, cookie: str = "") -> tuple[int, str]:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}")
        if cookie:
            request.add_header("Cookie", cookie)
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()

    def answers(self) -> bool:
        try:
            return self.get("/login/")[0] == 200
        except OSError:
            return False

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=60)
        finally:
            if self.process.poll() is None:
                self.process.kill()


def wait_for(condition: Callable[[], object], what: str, run: Run, timeout: float = TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what} did not happen within {timeout} s; output:\n{run.output}")


def heartbeat_of(pid: int) -> bool:
    return Worker.objects.filter(pid=pid).exists()


def process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie until its parent reaps it counts as gone too.
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"


@pytest.fixture
def started(subprocess_env, owner):
    run = Run(subprocess_env)
    try:
        wait_for(lambda: "Press Ctrl-C to stop." in run.output, "start-up", run)
        yield run
    finally:
        if run.process.poll() is None:
            run.stop()


def session_cookie_for(user) -> str:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


def test_a_killed_worker_is_restarted_while_the_web_stays_up(started, owner):
    run = started
    first = wait_for(lambda: run.child("postroom.cli worker"), "a worker child", run)
    wait_for(lambda: heartbeat_of(first), "the first worker's heartbeat", run)

    os.kill(first, signal.SIGKILL)

    answered = 0
    deadline = time.monotonic() + TIMEOUT
    second = None
    while time.monotonic() < deadline:
        assert run.answers(), f"the web UI went down with the worker; output:\n{run.output}"
        answered += 1
        second = run.child("postroom.cli worker")
        if second and second != first and heartbeat_of(second):
            break
        time.sleep(0.2)
    assert second and second != first, run.output
    assert answered >= 2  # the web answered while the worker was down and after
    assert "worker stopped unexpectedly (exit -9: killed by SIGKILL); restarting it in 1 s" in (
        run.output
    )

    alert = Alert.objects.get(kind=Alert.Kind.PROCESS_RESTARTED)
    assert alert.key == "process_restarted:worker"
    assert "SIGKILL" in alert.message
    wait_for(lambda: OutboxMessage.objects.filter(rcpt_to=owner.email).exists(), "the email", run)
    assert (
        "worker of postroom run stopped" in OutboxMessage.objects.get(rcpt_to=owner.email).subject
    )
    status, page = run.get("/", cookie=session_cookie_for(owner))
    assert status == 200
    assert "The worker of postroom run stopped unexpectedly and was restarted" in page
    assert "exit -9: killed by SIGKILL" in page

    assert run.stop() == 0
    assert port_is_closed(run.port)
    assert process_gone(second)


def test_a_killed_web_server_comes_back_and_the_worker_carries_on(started):
    run = started
    worker = wait_for(lambda: run.child("postroom.cli worker"), "a worker child", run)
    web = wait_for(lambda: run.child("gunicorn"), "the web server child", run)

    os.kill(web, signal.SIGKILL)

    wait_for(lambda: (run.child("gunicorn") or web) != web, "a new web server", run)
    wait_for(run.answers, "the web server answering again", run)
    assert run.child("postroom.cli worker") == worker  # untouched
    assert "web server stopped unexpectedly (exit -9: killed by SIGKILL)" in run.output
    assert Alert.objects.filter(key="process_restarted:web server").exists()
    assert run.stop() == 0
    assert port_is_closed(run.port)


def test_a_worker_killed_mid_send_is_reported_and_its_recipients_carry_on(started, owner, tmp_path):
    run = started
    server = RecordingServer(tmp_path / "received.jsonl")
    try:
        sender = smtp_sender(server)
        ratelimit.set_limits(sender, ["5/second"])  # slow: the worker always holds some rows
        campaign = make_campaign(make_audience(60), sender=sender)
        control.start(campaign)
        first = wait_for(lambda: run.child("postroom.cli worker"), "a worker child", run)
        wait_for(
            lambda: (
                Delivery.objects.filter(campaign=campaign, state="sending").exists()
                and server.received()
            ),
            "the worker sending",
            run,
        )

        os.kill(first, signal.SIGKILL)

        alert = wait_for(
            lambda: Alert.objects.filter(kind=Alert.Kind.WORKER_DIED).first(),
            "the worker-died alert",
            run,
        )
        assert alert.campaign_id == campaign.pk
        assert "recipients back in the queue" in alert.message
        sent = Delivery.objects.filter(campaign=campaign, state="sent").count()
        wait_for(
            lambda: Delivery.objects.filter(campaign=campaign, state="sent").count() > sent,
            "sending to carry on",
            run,
        )
        assert Alert.objects.filter(kind=Alert.Kind.PROCESS_RESTARTED).exists()
        assert max(server.received().values()) == 1  # nobody twice
    finally:
        assert run.stop() == 0
        server.stop()
