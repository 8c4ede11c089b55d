"""Starting the web server and the worker as child processes, restarting them, stopping them.

`postroom run` is a small supervisor: gunicorn and the worker each run in their
own process (and their own session, so a Ctrl-C in the terminal reaches only
the supervisor). One that dies is restarted with a back-off; the other goes on.
The supervisor forwards SIGTERM to both and waits, so a worker finishes the
batch it is sending instead of being cut off mid-flight.
"""

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.utils.translation import gettext

from postroom.errors import ConfigurationError

log = logging.getLogger("postroom.run")

# Long enough for a worker to finish its current batch and record it.
STOP_TIMEOUT = 30.0
# Restart back-off: the first wait, the longest, and how long a child must have
# run for its next crash to count as a new one (back to the first wait).
RESTART_FIRST = 1.0
RESTART_MAX = 60.0
STABLE_SECONDS = 60.0


def ensure_port_free(host: str, port: int) -> None:
    """Refuse early, with one clear line, rather than let gunicorn retry and log tracebacks."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ConfigurationError(
                gettext(
                    "cannot listen on %(host)s:%(port)s (%(strerror)s); choose another with --port"
                )
                % {"host": host, "port": port, "strerror": exc.strerror}
            ) from None


def gunicorn_argv(host: str, port: int, workers: int, threads: int, access_log: bool) -> list[str]:
    """The gunicorn command line; gthread workers because views mostly wait on the database."""
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "postroom.wsgi:application",
        "--bind",
        bind,
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--worker-class",
        "gthread",
        "--timeout",
        "60",
        "--graceful-timeout",
        str(int(STOP_TIMEOUT)),
        "--no-control-socket",  # one per user by default: two servers would clash
        "--worker-tmp-dir",
        "/dev/shm" if os.path.isdir("/dev/shm") else "/tmp",
    ]
    if access_log:
        argv += ["--access-logfile", "-"]
    return argv


def describe_exit(code: int) -> str:
    """ "exit 1", or "exit -9: killed by SIGKILL" for a signal."""
    if code < 0:
        try:
            return f"exit {code}: killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"exit {code}: killed by signal {-code}"
    return f"exit {code}"


@dataclass
class Child:
    """One supervised process and its restart back-off."""

    name: str
    argv: list[str]
    process: subprocess.Popen | None = None
    started: float = 0.0
    delay: float = RESTART_FIRST
    restart_at: float | None = None


# Called when a child stopped unexpectedly: (name, how it exited, seconds until it restarts).
OnExit = Callable[[str, str, float], None]


@dataclass
class Supervisor:
    """Keeps named child processes running until a signal asks everything to stop.

    A child that stops on its own is restarted after a back-off (1 s, doubling
    to 60 s, back to 1 s once it had run a minute), so a crashing worker never
    takes the web UI down with it, and a crash loop does not spin.
    """

    env: dict[str, str]
    on_exit: OnExit | None = None
    children: dict[str, Child] = field(default_factory=dict)
    stopping: bool = False

    def start(self, name: str, argv: list[str]) -> None:
        child = self.children[name] = Child(name, argv)
        self._spawn(child)

    def _spawn(self, child: Child) -> None:
        child.process = subprocess.Popen(child.argv, env=self.env, start_new_session=True)
        child.started = time.monotonic()
        child.restart_at = None

    def has_exited(self, name: str) -> bool:
        process = self.children[name].process
        return process is None or process.poll() is not None

    def run(self) -> int:
        """Supervise until SIGINT/SIGTERM, then stop every child; the exit code (0)."""
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            while not self.stopping:
                self.step()
                time.sleep(0.2)
        finally:
            self.stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return 0

    def _on_signal(self, signum: int, frame) -> None:
        self.stopping = True

    def step(self) -> None:
        """Notice children that stopped, and restart those whose back-off is over."""
        now = time.monotonic()
        for child in self.children.values():
            if child.restart_at is not None:
                if now >= child.restart_at and not self.stopping:
                    self._spawn(child)
                    pid = child.process.pid if child.process else None
                    log.warning("%s restarted (pid %s)", child.name, pid)
                continue
            code = child.process.poll() if child.process else None
            if code is None:
                continue
            self._reap(child)
            if now - child.started >= STABLE_SECONDS:
                child.delay = RESTART_FIRST
            how = describe_exit(code)
            log.error(
                "%s stopped unexpectedly (%s); restarting it in %g s", child.name, how, child.delay
            )
            child.restart_at = now + child.delay
            if self.on_exit is not None:
                try:
                    self.on_exit(child.name, how, child.delay)
                except Exception:  # telling someone must never stop the supervision
                    log.exception("could not report that the %s stopped", child.name)
            child.delay = min(child.delay * 2, RESTART_MAX)

    def _reap(self, child: Child) -> None:
        """Kill what the dead child left in its process group: gunicorn's own workers
        would otherwise keep the port and stop the new server from listening."""
        if child.process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.process.pid, signal.SIGKILL)

    def stop_all(self) -> None:
        running = [c.process for c in self.children.values() if c.process is not None]
        for process in running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
