"""The measuring half of bench/faults.py: rows, the server's record, worker processes, the table."""

import bisect
import json
import os
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from tests.delivery.processes import RecordingServer, start_worker, wait_for


@dataclass
class Row:
    scenario: str
    db: str
    workers: int
    recipients: int = 0
    lost: int = 0
    twice: int = 0
    in_doubt: int = 0
    unreceived: int = 0
    per_fault: int = 0
    bound: int = 0
    over: int = 0  # faults that put more in doubt than their own bound
    back_after: str = "-"
    neighbour: str = "-"
    status: str = ""
    clicks: int = 0
    notes: list[str] = field(default_factory=list)


# -- what the server and the processes say ------------------------------------------


Records = list[tuple[float, int]]  # (time, connection number)


def accepted(server: RecordingServer) -> Records:
    """(time, connection number) of every message the server accepted, oldest first."""
    if not server.record.exists():
        return []
    lines = server.record.read_text().splitlines()
    return sorted((r["time"], r["connection"]) for r in map(json.loads, filter(None, lines)))


def first_after(records: Records, moment: float, exclude: frozenset = frozenset()) -> float | None:
    """Seconds from `moment` to the next message accepted on a connection not in `exclude`
    (a killed worker's pipelined commands are still accepted on its connections)."""
    for at, number in records[bisect.bisect_left(records, (moment, 0)) :]:
        if number not in exclude:
            return at - moment
    return None


def server_stats(server: RecordingServer) -> dict:
    return json.loads(server.control("stats"))


def open_connections(pid: int, port: int) -> list[int]:
    """Local ports of the established TCP connections from process `pid` to `port`."""
    inodes = set()
    ports = []
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
        for table in ("tcp", "tcp6"):
            with open(f"/proc/{pid}/net/{table}") as lines:
                next(lines)
                for line in lines:
                    local, remote, state, *_, inode = line.split()[1:10]
                    if state == "01" and inode in inodes and int(remote[-4:], 16) == port:
                        ports.append(int(local[-4:], 16))
    except OSError:  # gone, or raced with a closing descriptor
        return []
    return ports


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds these processes (all their threads) have used so far."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:  # gone
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of stat(5))
    return total / os.sysconf("SC_CLK_TCK")


class Workers:
    """`postroom worker` processes, killed and restarted as a supervisor would."""

    def __init__(self, env: dict[str, str], count: int, log: Path) -> None:
        self.env, self.log = env, open(log, "a")  # noqa: SIM115
        self.all: list[subprocess.Popen] = []  # every process started, to stop them all
        self.processes = [self._start() for _ in range(count)]

    def _start(self) -> subprocess.Popen:
        self.all.append(start_worker(self.env, stderr=self.log))
        return self.all[-1]

    def wait_up(self, timeout: float = 60) -> bool:
        from postroom.delivery.models import Worker

        pids = [p.pid for p in self.processes]
        return wait_for(lambda: Worker.objects.filter(pid__in=pids).count() == len(pids), timeout)

    def kill(self, i: int) -> None:
        self.processes[i].send_signal(signal.SIGKILL)
        self.processes[i].wait(10)
        self.processes[i] = self._start()

    def stop(self) -> None:
        for process in self.all:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.all:
            try:
                process.wait(8)
            except subprocess.TimeoutExpired:  # stuck in a render: it cannot hear SIGTERM
                process.kill()
                process.wait(10)
        self.log.close()


COLUMNS = (
    "scenario", "db (workers)", "recipients", "lost", "twice", "in doubt", "unreceived",
    "per fault ≤ bound", "back after (s)", "neighbour", "status", "click",
)  # fmt: skip


def table(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + " --- |" * len(COLUMNS)]
    notes = []
    for r in rows:
        verdict = "≤" if r.per_fault <= r.bound and not r.over else ">"
        cells = [
            r.scenario, f"{r.db} ({r.workers})", f"{r.recipients:,}", str(r.lost), str(r.twice),
            str(r.in_doubt), str(r.unreceived), f"{r.per_fault} {verdict} {r.bound}",
            r.back_after, r.neighbour, r.status, f"yes x{r.clicks}" if r.clicks else "no",
        ]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
        for note in dict.fromkeys(r.notes):  # once each, in order
            notes.append(f"- {r.scenario} ({r.db}): {note}")
    return "\n".join(lines + (["", *notes] if notes else []))


def commit(root: Path) -> str:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True
        ).stdout

    dirty = " (with uncommitted changes)" if git("status", "--porcelain").strip() else ""
    return git("log", "-1", "--format=%h %s").strip()[:100] + dirty
