"""A million subscribers: time a segment count and the first subscribers page (SQLite, PostgreSQL).

    python bench/audience.py [--subscribers 1000000] [--db sqlite,postgres] [--repeat 5]

Each database gets a fresh file or throwaway cluster, filled in bulk (SQLite
executemany, PostgreSQL COPY; subscriptions and tags with INSERT…SELECT), then
ANALYZEd. The page timing calls audience.browse.page(), the exact query code the
subscribers view runs (rows + capped count); the full view is timed too, through
Django's test client with template rendering. Figures are the median of
--repeat runs after one warm-up, on a shared 2-core machine: treat them as noisy.
"""

import argparse
import hashlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLANS = ["free", "pro", "team", "Pro plan"]
LISTS = [("news", "single"), ("offers", "double"), ("events", "single")]
SEGMENT = {
    "all": [
        {"field": "list", "op": "in", "value": ["news"]},
        {"field": "attributes.plan", "op": "eq", "value": "pro"},
        {"field": "attributes.age", "op": "gt", "value": 40},
    ]
}


def rows(n: int):
    """Deterministic people: every 7th age is a string, as spreadsheet imports leave them."""
    rnd = random.Random(42)
    start = datetime(2020, 1, 1, tzinfo=UTC)
    for i in range(n):
        email = f"user{i}@example{i % 97}.com"
        age = rnd.randint(18, 80)
        attributes = {"plan": PLANS[i % 4], "age": str(age) if i % 7 == 0 else age}
        if i % 5 == 0:
            attributes["since"] = f"20{10 + i % 14}-0{1 + i % 9}-1{i % 10}"
        created = start + timedelta(seconds=i * 90)
        yield (
            email,
            hashlib.sha256(email.encode()).hexdigest(),
            f"Person {i}",
            json.dumps(attributes),
            "blocklisted" if i % 1000 == 0 else "active",
            created,
            created,
        )


COLUMNS = "email, email_hash, name, attributes, status, created_at, updated_at"


def _sqlite_time(moment: datetime) -> str:
    """How Django stores an aware datetime in SQLite: UTC, no offset."""
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def fill(n: int) -> None:
    from django.db import connection, transaction

    from postroom.audience.models import MailingList, Tag

    lists = [MailingList.objects.create(name=name, optin=optin) for name, optin in LISTS]
    vip = Tag.objects.create(name="vip")
    started = time.perf_counter()
    if connection.vendor == "postgresql":
        connection.ensure_connection()
        with connection.connection.cursor() as cursor:
            copy_sql = f"COPY audience_subscriber ({COLUMNS}) FROM STDIN"
            with cursor.copy(copy_sql) as copy:
                for row in rows(n):
                    copy.write_row(row)
    else:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO audience_subscriber ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                ((*r[:5], _sqlite_time(r[5]), _sqlite_time(r[6])) for r in rows(n)),
            )
    print(f"  {n:,} subscribers inserted in {time.perf_counter() - started:.1f} s", flush=True)
    started = time.perf_counter()
    now = datetime.now(UTC)
    now = now if connection.vendor == "postgresql" else _sqlite_time(now)
    with connection.cursor() as cursor:
        # news: 2 in 3 subscribers; offers: 1 in 4 (half confirmed); events: 1 in 10.
        for ml, where, status in [
            (lists[0], "id %% 3 <> 0", "'confirmed'"),
            (
                lists[1],
                "id %% 4 = 0",
                "CASE WHEN id %% 8 = 0 THEN 'confirmed' ELSE 'unconfirmed' END",
            ),
            (
                lists[2],
                "id %% 10 = 0",
                "CASE WHEN id %% 20 = 0 THEN 'unsubscribed' ELSE 'confirmed' END",
            ),
        ]:
            cursor.execute(
                "INSERT INTO audience_subscription (subscriber_id, mailing_list_id, status,"
                " consent_source, consent_at, unsubscribe_source, created_at, updated_at)"
                f" SELECT id, %s, {status}, 'import', %s, '', %s, %s"
                f" FROM audience_subscriber WHERE {where}",
                [ml.pk, now, now, now],
            )
        cursor.execute(
            "INSERT INTO audience_subscriber_tags (subscriber_id, tag_id)"
            " SELECT id, %s FROM audience_subscriber WHERE id %% 10 = 1",
            [vip.pk],
        )
        cursor.execute("ANALYZE")
    print(f"  subscriptions and tags in {time.perf_counter() - started:.1f} s", flush=True)


def timed(label: str, fn, repeat: int) -> None:
    result = fn()  # warm-up: fills the page cache, as any earlier page view would
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    median = statistics.median(times) * 1000
    print(f"  {label:52} {median:8.1f} ms  (min {min(times) * 1000:.1f})  -> {result}", flush=True)


def measure(repeat: int) -> None:
    from django.contrib.auth.models import User
    from django.test import Client

    from postroom.audience import browse, segments
    from postroom.audience.eligibility import mailable_subscribers
    from postroom.audience.models import MailingList

    news = MailingList.objects.get(name="news")
    simple = {"all": [{"field": "list", "op": "in", "value": ["news"]}]}
    print("  segment counts (segments.subscribers_matching(...).count()):")
    timed("list in news", lambda: segments.subscribers_matching(simple).count(), repeat)
    timed(
        "list in news AND plan = pro AND age > 40",
        lambda: segments.subscribers_matching(SEGMENT).count(),
        repeat,
    )
    tags = {"all": [{"field": "tag", "op": "in", "value": ["vip"]}]}
    timed("tag in vip", lambda: segments.subscribers_matching(tags).count(), repeat)
    timed(
        "mailable on news (campaign audience)", lambda: mailable_subscribers([news]).count(), repeat
    )

    def first_page(**filters):
        def run():
            page = browse.page(browse.Filters(**filters))
            return f"{len(page.rows)} rows, total {page.total:,}{'+' if page.total_capped else ''}"

        return run

    print("  subscribers page (browse.page: rows + capped count):")
    timed("first page, no filter", first_page(), repeat)
    timed("first page, sorted by email", first_page(sort="email"), repeat)
    timed("first page, list = news", first_page(list_id=news.pk), repeat)
    timed("first page, search 'person 4242'", first_page(q="person 4242"), repeat)
    timed("first page, search 'user77@'", first_page(q="user77@"), repeat)
    middle = browse.page(browse.Filters(), count=False)
    for _ in range(3):  # walk a few pages, then jump deep with a cursor half-way down
        middle = browse.page(browse.Filters(), middle.next_cursor, count=False)
    timed(
        "page 4 by keyset cursor",
        lambda: len(browse.page(browse.Filters(), middle.next_cursor).rows),
        repeat,
    )

    User.objects.create_superuser("bench", "bench@example.org", "bench-pw-1")
    client = Client()
    client.login(username="bench", password="bench-pw-1")

    def view(params):
        def run():
            response = client.get("/subscribers/", params)
            assert response.status_code == 200, response.status_code
            return f"HTTP {response.status_code}, {len(response.content):,} bytes"

        return run

    print("  the whole view through the test client (query + template):")
    timed("GET /subscribers/", view({}), repeat)
    timed(
        "GET /subscribers/?list=news&q=person 12", view({"list": news.pk, "q": "person 12"}), repeat
    )


def child(n: int, repeat: int) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "postroom.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    fill(n)
    measure(repeat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--db", default="sqlite,postgres")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.subscribers, args.repeat)
        return
    command = [sys.executable, __file__, "--child", "--subscribers", str(args.subscribers)]
    command += ["--repeat", str(args.repeat)]
    with tempfile.TemporaryDirectory(prefix="postroom-bench-audience-") as tmp:
        env = {
            **os.environ,
            "POSTROOM_DATA_DIR": tmp,
            "ALLOWED_HOSTS": "testserver",
            "PYTHONPATH": str(ROOT),
            "LOG_LEVEL": "WARNING",
        }
        if "sqlite" in args.db:
            print(f"SQLite ({args.subscribers:,} subscribers)", flush=True)
            subprocess.run(command, env={**env, "DATABASE_URL": ""}, check=True)
        if "postgres" in args.db:
            from postroom.testing.pgcluster import pg_cluster

            print(f"PostgreSQL ({args.subscribers:,} subscribers)", flush=True)
            with pg_cluster() as url:
                subprocess.run(command, env={**env, "DATABASE_URL": url}, check=True)


if __name__ == "__main__":
    main()
