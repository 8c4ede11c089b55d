"""The SQLite write of an import alone: new subscribers and their subscriptions, no parsing.

    python bench/import_write.py [--rows 1000000] [--batch 10000] [--variant NAME ...]

The schema is audience's own (migrated into a fresh file); the rows are written
as imports/sql.py writes them (each batch sorted by email, one IMMEDIATE
transaction per batch, subscriptions by id), with pure sqlite3 so that only
SQLite's share is measured. Variants:

- `migrated`: the schema as it is;
- `hash-index`: with the unique index on `email_hash` that the schema had before
  audience's migration 0004 (what that migration bought);
- `sorted`: the whole file sorted by email before it is cut into batches, so the
  email index is filled in key order (what a global staging step would buy).

It prints CPU and wall seconds, the longest write transaction (how long a
sending worker could wait for SQLite's one write lock) and the load average.
"""

import argparse
import hashlib
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MIGRATE = (
    "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'postroom.settings');"
    "django.setup(); from django.core.management import call_command;"
    "call_command('migrate', verbosity=0);"
    "from postroom.audience.models import MailingList; MailingList.objects.create(name='bench')"
)
NOW = "2026-01-01 00:00:00"


def rows(count: int) -> list[tuple[str, str, str, str]]:
    """(email, email_hash, name, attributes) in random order, as a file brings them."""
    rnd = random.Random(12)
    names = ["anna", "kofi", "li", "darius", "marie", "jose", "olga", "tom", "yuki", "sara"]
    result = []
    for i in range(count):
        email = f"{rnd.choice(names)}.{rnd.randrange(10**9)}.{i}@example.{rnd.choice('co')}rg"
        digest = hashlib.sha256(email.encode()).hexdigest()
        result.append((email, digest, "Name Surname", '{"city": "Porto", "plan": "team"}'))
    return result


def write(path: Path, contacts: list, batch: int, variant: str) -> str:
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
        "PRAGMA cache_size=-32768; PRAGMA wal_autocheckpoint=20000;"
    )
    if variant == "hash-index":
        db.execute("CREATE UNIQUE INDEX bench_hash ON audience_subscriber (email_hash)")
    if variant == "sorted":
        contacts = sorted(contacts)
    (list_id,) = db.execute("SELECT id FROM audience_mailinglist").fetchone()
    cpu, wall, longest = time.process_time(), time.perf_counter(), 0.0
    for start in range(0, len(contacts), batch):
        began = time.perf_counter()
        db.execute("BEGIN IMMEDIATE")
        (before,) = db.execute("SELECT COALESCE(MAX(id), 0) FROM audience_subscriber").fetchone()
        db.executemany(
            "INSERT INTO audience_subscriber (email, email_hash, name, attributes, status,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, 'active', ?, ?) ON CONFLICT DO NOTHING",
            [(*c, NOW, NOW) for c in sorted(contacts[start : start + batch])],
        )
        db.execute(
            "INSERT INTO audience_subscription (subscriber_id, mailing_list_id, status,"
            " consent_source, consent_at, confirmed_at, unsubscribe_source, created_at,"
            " updated_at) SELECT id, ?, 'confirmed', 'import', ?, ?, '', ?, ?"
            " FROM audience_subscriber WHERE id > ? ON CONFLICT DO NOTHING",
            (list_id, NOW, NOW, NOW, NOW, before),
        )
        db.execute("COMMIT")
        longest = max(longest, time.perf_counter() - began)
    db.close()
    one, five, _ = os.getloadavg()
    return (
        f"{variant:<10} {len(contacts):>9} rows, batches of {batch}: "
        f"CPU {time.process_time() - cpu:5.1f} s, wall {time.perf_counter() - wall:5.1f} s, "
        f"longest transaction {longest:4.2f} s; load {one:.1f}/{five:.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--variant", nargs="+", default=["migrated", "hash-index", "sorted"])
    args = parser.parse_args()
    contacts = rows(args.rows)
    with tempfile.TemporaryDirectory(prefix="postroom-bench-write-") as tmp:
        for variant in args.variant:
            path = Path(tmp) / f"{variant}.sqlite3"
            env = {**os.environ, "DATABASE_URL": f"sqlite:///{path}", "PYTHONPATH": str(ROOT)}
            env["POSTROOM_DATA_DIR"] = str(Path(tmp) / "var")
            subprocess.run([sys.executable, "-c", MIGRATE], env=env, check=True)
            print(write(path, contacts, args.batch, variant), flush=True)


if __name__ == "__main__":
    main()
