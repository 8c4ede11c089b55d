"""A worker waiting on a 35/hour limit: its CPU use, and how fast it wakes up.

    python bench/idle_worker.py [--idle 30] [--db sqlite|postgres]

Sets up a fresh database (a SQLite file, or a throwaway PostgreSQL cluster),
a recording SMTP server subprocess, and one `postroom worker` subprocess:

1. campaign A on a 35/hour sender: its first message leaves at once, then the
   worker waits ~103 s for the next slot. The worker's CPU time (utime+stime
   from /proc) is measured over --idle seconds of that wait.
2. campaign B on a second sender (5/second), started and paused at once:
   resume it and time until its first message reaches the server (wake-up on
   resume); pause it and time until its messages stop arriving (pause).
3. campaign C on the second sender, started while the worker sleeps: time
   until its first message reaches the server (wake-up on start).

The machine is shared by several engineers: figures are noisy.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from django_setup import migrated_database  # noqa: E402  (bench/django_setup.py, beside this file)

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


class Recorder:
    """`python -m postroom.testing.smtpserver --record FILE` in its own process."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.process = subprocess.Popen(
            [sys.executable, "-m", "postroom.testing.smtpserver", "--port", "0",
             "--record", str(path)],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        ready = self.process.stdout.readline().split()
        self.host, self.port = ready[1], int(ready[2])

    def times(self, domain: str) -> list[float]:
        if not self.path.exists():
            return []
        rows = [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]
        return sorted(r["time"] for r in rows if r["rcpt_to"][0].endswith("@" + domain))


def wait_until(predicate, timeout: float = 30.0) -> float:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return time.time()
        time.sleep(0.01)
    raise SystemExit("timed out waiting (is the worker running?)")


def campaign_for(name: str, sender, domain: str, recipients: int):
    from postroom.audience.emails import email_hash
    from postroom.audience.models import MailingList, Subscriber, Subscription
    from postroom.campaigns.models import Campaign

    mailing_list = MailingList.objects.create(name=name)
    emails = [f"user{i}@{domain}" for i in range(recipients)]
    Subscriber.objects.bulk_create(Subscriber(email=e, email_hash=email_hash(e)) for e in emails)
    Subscription.objects.bulk_create(
        Subscription(subscriber=s, mailing_list=mailing_list, status="confirmed")
        for s in Subscriber.objects.filter(email__in=emails)
    )
    campaign = Campaign.objects.create(
        name=name, subject=f"{name} news", from_email="news@postroom.dev",
        body="Hello {{ subscriber.email }}", sender=sender,
    )  # fmt: skip
    campaign.lists.add(mailing_list)
    return campaign


def run(args: argparse.Namespace, workdir: Path) -> None:
    from postroom.delivery import control, ratelimit
    from postroom.delivery.models import Sender

    server = Recorder(workdir / "received.jsonl")
    worker = None
    try:
        slow = Sender.objects.create(name="slow", host=server.host, port=server.port, tls="none")
        ratelimit.set_limits(slow, ["35/hour"])
        fast = Sender.objects.create(name="fast", host=server.host, port=server.port, tls="none")
        ratelimit.set_limits(fast, ["5/second"])
        a = campaign_for("a", slow, "a.postroom.dev", 100)
        b = campaign_for("b", fast, "b.postroom.dev", 200)
        c = campaign_for("c", fast, "c.postroom.dev", 3)
        control.start(b)
        control.pause(b, "waiting for the bench")
        control.start(a)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        worker = subprocess.Popen(
            [sys.executable, "-m", "postroom.cli", "worker"], env=env, stderr=subprocess.DEVNULL
        )
        wait_until(lambda: server.times("a.postroom.dev"), 60)
        time.sleep(1.0)  # the first message's results are recorded; now it only waits
        cpu0, t0 = cpu_seconds(worker.pid), time.time()
        time.sleep(args.idle)
        cpu1, t1 = cpu_seconds(worker.pid), time.time()
        sent_a = len(server.times("a.postroom.dev"))
        print(f"database: {args.db}")
        print(
            f"idle on 35/hour: {cpu1 - cpu0:.2f} s CPU over {t1 - t0:.0f} s "
            f"({100 * (cpu1 - cpu0) / (t1 - t0):.2f}% of a core); campaign A sent {sent_a}"
        )

        resumed = time.time()
        control.resume(b)
        first_b = wait_until(lambda: server.times("b.postroom.dev"))
        print(f"wake-up on resume: first message at the server after {first_b - resumed:.2f} s")
        time.sleep(2.0)
        paused = time.time()
        control.pause(b, "bench")
        time.sleep(3.0)
        last_b = max(server.times("b.postroom.dev"))
        print(
            f"pause: last message at the server {max(0.0, last_b - paused):.2f} s after "
            "the pause (slots already granted, at most ~1 s of the sender's rate)"
        )

        started = time.time()
        control.start(c)
        first_c = wait_until(lambda: server.times("c.postroom.dev"))
        print(f"wake-up on start: first message at the server after {first_c - started:.2f} s")
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(30)
        server.process.terminate()
        server.process.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=float, default=30.0, help="seconds of idle CPU to measure")
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    with migrated_database(args.db, prefix="idle-worker-") as workdir:
        run(args, workdir)


if __name__ == "__main__":
    main()
