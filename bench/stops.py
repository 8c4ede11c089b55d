"""What the side thread's pass over waiting people costs (engine.stop_departed): 100,000
people waiting in a sequence, nobody gone, then 1,000 unsubscribed and 100 suppressed.

    python bench/stops.py [--people 100000] [--gone 1000] [--db sqlite|postgres]

A fresh database (a SQLite file, or a throwaway PostgreSQL cluster); a welcome sequence
on a list of --people members, every one of them waiting a month for step 2. Printed:
the pass with nobody gone (the read every worker's side thread makes every 5 s; median
of 5) and the pass that stops who left (the read and its one UPDATE).
"""

import argparse
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from automations import join  # noqa: E402  (bench/automations.py, beside this file)
from django_setup import migrated_database  # noqa: E402  (bench/django_setup.py, beside this file)


def run(args: argparse.Namespace, workdir: Path) -> None:
    from django.db import connection
    from django.db.models import Count
    from django.utils import timezone

    from postroom.audience.models import MailingList, Subscriber, Subscription, Suppression
    from postroom.automations import engine
    from postroom.automations import services as automations
    from postroom.automations.models import Enrolment

    welcome_list = MailingList.objects.create(name="welcome")
    welcome = automations.create(name="Welcome", trigger="joined:welcome", from_email="a@x.org")
    for n in (1, 2):
        automations.add_step(welcome, subject=f"Step {n}", body="Hello", wait="30d")
    automations.activate(welcome)
    join(welcome_list, "welcome.example", args.people)
    later = timezone.now() + timedelta(days=30)
    ids = list(Subscriber.objects.values_list("pk", flat=True))
    for start in range(0, len(ids), 5000):
        Enrolment.objects.bulk_create(
            Enrolment(automation=welcome, subscriber_id=pk, position=2, next_at=later)
            for pk in ids[start : start + 5000]
        )
    # They joined long ago (a month's wait): only what changes from here on is recent.
    Subscription.objects.update(updated_at=timezone.now() - timedelta(days=1))
    Suppression.objects.update(created_at=timezone.now() - timedelta(days=1))
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

    def timed() -> tuple[float, int]:
        began = time.perf_counter()
        stopped = engine.stop_departed()
        return time.perf_counter() - began, stopped

    quiet = [timed() for _ in range(5)]
    assert all(n == 0 for _, n in quiet)
    recent = timezone.now() - timedelta(seconds=65)  # the side thread's quick pass
    quick = []
    for _ in range(5):
        began = time.perf_counter()
        assert engine.stop_departed(since=recent) == 0
        quick.append(time.perf_counter() - began)
    gone = ids[:: max(1, len(ids) // args.gone)][: args.gone]
    Subscription.objects.filter(subscriber_id__in=gone).update(  # as audience.unsubscribe
        status="unsubscribed", unsubscribed_at=timezone.now(), updated_at=timezone.now()
    )
    suppressed = Subscriber.objects.filter(pk__in=ids[1::997][:100])
    Suppression.objects.bulk_create(
        Suppression(email_hash=h, reason="bounced")
        for h in suppressed.values_list("email_hash", flat=True)
    )
    began = time.perf_counter()
    stopped = engine.stop_departed(since=recent)
    seconds = time.perf_counter() - began
    print(f"database: {args.db}; {len(ids):,} people waiting")
    print(f"full pass, nobody gone: {statistics.median(s for s, _ in quiet) * 1000:.0f} ms"
          f" (median of 5)")  # fmt: skip
    print(f"quick pass (changed in the last 65 s), nobody gone:"
          f" {statistics.median(quick) * 1000:.0f} ms (median of 5)")  # fmt: skip
    print(f"quick pass that stops {stopped:,} who left: {seconds * 1000:.0f} ms")
    reasons = dict(
        Enrolment.objects.filter(state="stopped").values_list("reason").annotate(n=Count("id"))
    )
    print(f"reasons: {reasons}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--gone", type=int, default=1000)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    with migrated_database(args.db, prefix="bench-stops-") as workdir:
        run(args, workdir)


if __name__ == "__main__":
    main()
