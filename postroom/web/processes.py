"""Starting the web server and the worker as child processes, and stopping them cleanly.

`postroom run` is a small supervisor: gunicorn and the worker each run in their
own process (and their own session, so a Ctrl-C in the terminal reaches only
the supervisor). The supervisor forwards SIGTERM to both and waits, so a
worker finishes the batch it is sending instead of being cut off mid-flight.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field

from postroom.errors import ConfigurationError

# Long enough for a worker to finish its current batch and record it.
STOP_TIMEOUT = 30.0


def ensure_port_free(host: str, port: int) -> None:
    """Refuse early, with one clear line, rather than let gunicorn retry and log tracebacks."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ConfigurationError(
                f"cannot listen on {host}:{port} ({exc.strerror}); choose another with --port"
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


@dataclass
class Supervisor:
    """Runs named child processes until one stops or a signal asks everything to stop."""

    env: dict[str, str]
    children: dict[str, subprocess.Popen] = field(default_factory=dict)
    stopping: bool = False

    def start(self, name: str, argv: list[str]) -> None:
        self.children[name] = subprocess.Popen(argv, env=self.env, start_new_session=True)

    def run(self) -> int:
        """Wait for a child to exit or a signal to stop; stop the rest; return an exit code."""
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            failed = self._wait_for_first_exit()
        finally:
            self.stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if failed:
            name, code = failed
            print(f"postroom: {name} stopped unexpectedly (exit {code})", file=sys.stderr)
            return 1
        return 0

    def _on_signal(self, signum: int, frame) -> None:
        self.stopping = True

    def _wait_for_first_exit(self) -> tuple[str, int] | None:
        while not self.stopping:
            for name, child in self.children.items():
                code = child.poll()
                if code is not None:
                    return (name, code)
            time.sleep(0.2)
        return None

    def stop_all(self) -> None:
        for child in self.children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for child in self.children.values():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
