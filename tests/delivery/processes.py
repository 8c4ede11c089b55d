"""Subprocesses for crash tests: a recording SMTP server and `postroom worker`s."""

import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path


class RecordingServer:
    """`python -m postroom.testing.smtpserver --record FILE --control` in its own process."""

    def __init__(self, record: Path, *extra: str) -> None:
        self.record = record
        self.process = subprocess.Popen(
            [sys.executable, "-m", "postroom.testing.smtpserver", "--port", "0",
             "--record", str(record), "--control", *extra],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        line = self.process.stdout.readline().split()
        assert line and line[0] == "READY", f"smtp server did not start: {line}"
        self.host, self.port = line[1], int(line[2])

    def control(self, command: str) -> str:
        """Send one command (see postroom.testing.smtpcontrol); its answer, once in effect."""
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline().strip()
        if not answer.startswith("OK"):
            raise RuntimeError(f"smtp server: {command!r} → {answer or 'no answer'}")
        return answer[3:]

    def received(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        if self.record.exists():
            for line in self.record.read_text().splitlines():
                if line.strip():
                    for rcpt in json.loads(line)["rcpt_to"]:
                        counts[rcpt.lower()] += 1
        return counts

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)
        self.process.stdin.close()
        self.process.stdout.close()


def start_worker(env: dict[str, str], *args: str, stderr=subprocess.PIPE) -> subprocess.Popen:
    """`postroom worker ARGS`; pass a file as stderr for a long run (a pipe nobody reads fills)."""
    return subprocess.Popen(
        [sys.executable, "-m", "postroom.cli", "worker", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        text=True,
    )


def wait_for(predicate, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
