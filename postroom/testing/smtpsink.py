"""Postfix's `smtp-sink` on a free loopback port, for throughput benchmarks.

smtp-sink is a C server that accepts and discards mail near 14,000 messages/s
here, so it measures the client rather than itself (aiosmtpd stops near 1,700/s
and eats a core).

    with SmtpSink() as sink:
        ...send to sink.host, sink.port...
        print(sink.received())
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence

_COUNTERS = re.compile(rb"mesg=(\d+)")


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class SmtpSink:
    """Runs `smtp-sink -c` as a subprocess; `received()` reads its message counter."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, extra_args: Sequence[str] = ()
    ) -> None:
        self.binary = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
        if not os.path.exists(self.binary):
            raise RuntimeError("smtp-sink not found: install Debian's postfix package")
        self.host = host
        self.port = port
        self.extra_args = list(extra_args)
        self._process: subprocess.Popen | None = None
        self._output = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the sink

    def __enter__(self) -> SmtpSink:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self, wait: float = 5.0) -> None:
        self.port = self.port or _free_port(self.host)
        command = [self.binary, "-c", *self.extra_args]
        if os.geteuid() == 0:
            command += ["-u", "nobody"]  # smtp-sink refuses to run as root otherwise
        command += [f"{self.host}:{self.port}", "1024"]
        self._process = subprocess.Popen(
            command, stdout=self._output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        deadline = time.monotonic() + wait
        while True:
            try:
                socket.create_connection((self.host, self.port), timeout=1).close()
                return
            except OSError:
                if self._process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"smtp-sink did not start: {self.output()}") from None
                time.sleep(0.02)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def output(self) -> str:
        self._output.seek(0)
        return self._output.read().decode("utf-8", "replace")

    def received(self) -> int:
        """Messages counted so far (smtp-sink updates the counter at each final dot)."""
        self._output.seek(0)
        counts = _COUNTERS.findall(self._output.read())
        return int(counts[-1]) if counts else 0

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
