"""Import a generated contact file and print rows/s and peak memory, on SQLite and PostgreSQL.

    python bench/import.py [--rows 1000000] [--small 100000] [--db sqlite,postgres]

Each import runs as `postroom import FILE --list bench --json` in a fresh
process against a fresh database, so its peak RSS (from wait4) is the import's
own. A smaller file is imported too: similar peaks mean memory is flat in the
file's size. Figures are noisy on a shared 2-core machine.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from postroom.testing.pgcluster import pg_cluster

ROOT = Path(__file__).resolve().parent.parent
MAKE_CONTACTS = ROOT / "bench" / "contacts.py"
SETUP = (
    "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'postroom.settings');"
    "django.setup();"
    "from django.core.management import call_command; call_command('migrate', verbosity=0);"
    "from postroom.audience.models import MailingList; MailingList.objects.create(name='bench')"
)


def make_file(rows: int, directory: Path) -> Path:
    path = directory / f"contacts-{rows}.csv"
    if not path.exists():
        subprocess.run([sys.executable, str(MAKE_CONTACTS), str(rows), str(path)], check=True)
    return path


def run_import(path: Path, env: dict[str, str]) -> tuple[dict, float, int, float]:
    """(summary, seconds, peak RSS in MB, CPU seconds) of one `postroom import` process."""
    subprocess.run([sys.executable, "-c", SETUP], env=env, check=True)
    command = [sys.executable, "-m", "postroom.cli", "import", str(path), "--list", "bench"]
    started = time.perf_counter()
    process = subprocess.Popen([*command, "--json"], env=env, stdout=subprocess.PIPE)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"import failed: {output.decode()[-500:]}")
    cpu = usage.ru_utime + usage.ru_stime
    return json.loads(output), elapsed, usage.ru_maxrss // 1024, cpu


def bench(label: str, files: list[Path], database_url: str, work: Path) -> None:
    for path in files:
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "POSTROOM_DATA_DIR": str(work / f"var-{label}-{path.stem}"),
            "PYTHONPATH": str(ROOT),
        }
        if label == "SQLite":  # a fresh database file per run
            env["DATABASE_URL"] = f"sqlite:///{work / f'{label}-{path.stem}.sqlite3'}"
        summary, seconds, peak, cpu = run_import(path, env)
        rows = summary["rows"]
        print(
            f"{label:<10} {rows:>9} rows  {seconds:6.1f} s  {rows / seconds:9,.0f} rows/s  "
            f"peak RSS {peak:4d} MB  CPU {cpu:5.1f} s  (created {summary['created']}, "
            f"duplicates {summary['duplicates']}, rejected {summary['rejected']})",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--db", default="sqlite,postgres")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="postroom-bench-import-") as tmp:
        work = Path(tmp)
        files = [make_file(n, work) for n in (args.small, args.rows) if n]
        if "sqlite" in args.db:
            bench("SQLite", files, "", work)
        if "postgres" in args.db:
            for path in files:
                with pg_cluster() as url:
                    bench("PostgreSQL", [path], url, work)


if __name__ == "__main__":
    main()
