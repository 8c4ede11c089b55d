"""100,000 people enter a sequence at once while a campaign sends through the same sender:
the campaign keeps its fair share.

    python bench/automations.py [--people 100000] [--campaign 20000] [--rate 100]
                                [--seconds 60] [--db sqlite|postgres]

Sets up a fresh database (a SQLite file, or a throwaway PostgreSQL cluster), a
recording SMTP server subprocess and one sender limited to --rate messages a second
(so the sender, not the machine, is what the two share). A campaign to --campaign
people starts; a welcome sequence (joined:welcome, one send step, no wait) is
active, and --people people join its list at once. One `postroom worker` runs for
--seconds. Printed: how long the engine took to enter everyone and to queue their
step (ledger rows), the messages per second of each at the server in 10 s buckets,
and each one's share over the time both had mail waiting. Equal priorities: the
fair share is one half each. The machine is shared: rates are noisy, shares less so.
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

    def received(self) -> list[tuple[float, str]]:
        """(time, domain) per message."""
        if not self.path.exists():
            return []
        rows = [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]
        return sorted((r["time"], r["rcpt_to"][0].rpartition("@")[2]) for r in rows)


def join(mailing_list, domain: str, count: int) -> None:
    """`count` new confirmed members of the list, in bulk (that many joining at once)."""
    from postroom.audience.emails import email_hash
    from postroom.audience.models import Subscriber, Subscription

    for start in range(0, count, 5000):
        emails = [f"user{i}@{domain}" for i in range(start, min(count, start + 5000))]
        Subscriber.objects.bulk_create(
            Subscriber(email=e, email_hash=email_hash(e)) for e in emails
        )
        Subscription.objects.bulk_create(
            Subscription(subscriber=s, mailing_list=mailing_list, status="confirmed")
            for s in Subscriber.objects.filter(email__in=emails)
        )


def run(args: argparse.Namespace, workdir: Path) -> None:
    from postroom.audience.models import MailingList
    from postroom.automations import services as automations
    from postroom.automations.models import Enrolment
    from postroom.campaigns.models import Campaign
    from postroom.delivery import control, ratelimit
    from postroom.delivery.models import Delivery, Sender

    server = Recorder(workdir / "received.jsonl")
    worker = None
    try:
        relay = Sender.objects.create(
            name="relay", host=server.host, port=server.port, tls="none", max_connections=4
        )
        ratelimit.set_limits(relay, [f"{args.rate}/second"])
        news = MailingList.objects.create(name="news")
        join(news, "news.example", args.campaign)
        campaign = Campaign.objects.create(
            name="News", subject="News", from_email="news@example.org",
            body="Hello {{ subscriber.email }}", sender=relay,
        )  # fmt: skip
        campaign.lists.add(news)
        welcome_list = MailingList.objects.create(name="welcome")
        welcome = automations.create(
            name="Welcome", trigger="joined:welcome", sender="relay", from_email="hi@example.org"
        )
        automations.add_step(welcome, subject="Welcome", body="Hello {{ subscriber.email }}")
        automations.activate(welcome)
        control.start(campaign)
        joined = time.time()
        join(welcome_list, "welcome.example", args.people)
        print(f"database: {args.db}; {args.people:,} joined in {time.time() - joined:.1f} s")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        started = time.time()
        worker = subprocess.Popen(
            [sys.executable, "-m", "postroom.cli", "worker"], env=env, stderr=subprocess.DEVNULL
        )
        entered_at = queued_at = None
        while time.time() - started < args.seconds:
            time.sleep(1.0)
            if entered_at is None and Enrolment.objects.count() >= args.people:
                entered_at = time.time() - started
            if queued_at is None and (
                Delivery.objects.filter(campaign__kind="automation").count() >= args.people
            ):
                queued_at = time.time() - started
        print(f"everyone entered after {entered_at or float('nan'):.1f} s, "
              f"every step queued after {queued_at or float('nan'):.1f} s "
              f"(of {args.seconds} s)")  # fmt: skip
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(60)
        server.process.terminate()
        server.process.wait(10)

    received = server.received()
    if not received:
        raise SystemExit("nothing was received")
    t0 = received[0][0]
    buckets: dict[int, dict[str, int]] = {}
    for at, domain in received:
        bucket = buckets.setdefault(int((at - t0) // 10), {"news.example": 0, "welcome.example": 0})
        bucket[domain] = bucket.get(domain, 0) + 1
    print("seconds   campaign/s   sequence/s   campaign share")
    for n, counts in sorted(buckets.items()):
        c, s = counts["news.example"], counts["welcome.example"]
        share = c / (c + s) if c + s else 0.0
        print(f"{n * 10:>4}-{n * 10 + 10:<4} {c / 10:>10.1f}   {s / 10:>10.1f}   {share:>13.0%}")
    # While both had mail waiting: until the first of them ran out (or the run ended).
    news_total = sum(1 for _, d in received if d == "news.example")
    welcome_total = len(received) - news_total
    both_until = received[-1][0]
    if news_total >= args.campaign:
        both_until = max(at for at, d in received if d == "news.example")
    elif welcome_total >= args.people:
        both_until = max(at for at, d in received if d == "welcome.example")
    first_welcome = min((at for at, d in received if d == "welcome.example"), default=t0)
    window = [d for at, d in received if first_welcome <= at <= both_until]
    c = sum(d == "news.example" for d in window)
    rate = len(received) / (received[-1][0] - t0 + 1e-9)
    print(f"campaign share while both sent: {c / max(1, len(window)):.1%} of {len(window):,} "
          f"messages over {both_until - first_welcome:.0f} s (fair share 50%); "
          f"total {rate:.0f}/s, limit {args.rate}/s")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--campaign", type=int, default=20_000)
    parser.add_argument("--rate", type=int, default=100, help="the sender's limit, per second")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    with migrated_database(args.db, prefix="bench-automations-") as workdir:
        run(args, workdir)


if __name__ == "__main__":
    main()
