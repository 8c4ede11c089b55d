"""Import a generated contact file and print rows/s and peak memory, on SQLite and PostgreSQL.

    python bench/import.py [--rows 1000000] [--small 100000] [--db sqlite,postgres] [--runs 2]

Each import runs as `postroom import FILE --list bench --json` in a fresh
process against a fresh database, so its peak RSS (from wait4) is the import's
own and its CPU seconds include the processes it starts. A smaller file is
imported too: similar peaks mean memory is flat in the file's size.

Before each import the same file is merely read and split into records (the
importer's own reader, no validation, no database) in a fresh process: that
floor, measured in the same run, is what to compare the import with, since
wall times on a shared 2-core machine move with the load (printed too, before
and after). Each file is measured `--runs` times (floor and import each time).
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


# The reading side needs no settings: the floor loads none.
FLOOR = (
    "import sys; from pathlib import Path;"
    "from postroom.imports.detect import detect; from postroom.imports.reader import Reader;"
    "path = Path(sys.argv[1]); layout = detect(path);"
    "reader = Reader(path, layout); print(sum(1 for _ in reader)); reader.close()"
)


def measure(command: list[str], env: dict[str, str]) -> tuple[bytes, float, int, float]:
    """(stdout, seconds, peak RSS in MB, CPU seconds of it and its children) of one process."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{command[2]} failed: {output.decode()[-500:]}")
    return output, elapsed, usage.ru_maxrss // 1024, usage.ru_utime + usage.ru_stime


def floor(path: Path, env: dict[str, str]) -> tuple[int, float, float]:
    """(records, seconds, CPU seconds) to read and split the file, and nothing else."""
    output, seconds, _, cpu = measure([sys.executable, "-c", FLOOR, str(path)], env)
    return int(output), seconds, cpu


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.1f}/{five:.1f} on {os.cpu_count()} cores"


def run_import(path: Path, env: dict[str, str]) -> tuple[dict, float, int, float]:
    """(summary, seconds, peak RSS in MB, CPU seconds) of one `postroom import` process."""
    subprocess.run([sys.executable, "-c", SETUP], env=env, check=True)
    command = [sys.executable, "-m", "postroom.cli", "import", str(path), "--list", "bench"]
    output, elapsed, peak, cpu = measure([*command, "--json"], env)
    return json.loads(output), elapsed, peak, cpu


def bench(label: str, files: list[Path], database_url: str, work: Path, run: int) -> None:
    for path in files:
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "POSTROOM_DATA_DIR": str(work / f"var-{label}-{path.stem}-{run}"),
            "PYTHONPATH": str(ROOT),
        }
        if label == "SQLite":  # a fresh database file per run
            env["DATABASE_URL"] = f"sqlite:///{work / f'{label}-{path.stem}-{run}.sqlite3'}"
        records, floor_seconds, floor_cpu = floor(path, env)
        before = load()
        summary, seconds, peak, cpu = run_import(path, env)
        rows = summary["rows"]
        assert rows == records, (rows, records)
        print(
            f"{label:<10} run {run}: {rows:>9} rows  {seconds:6.1f} s  "
            f"{rows / seconds:9,.0f} rows/s  "
            f"CPU {cpu:5.1f} s  peak RSS {peak:4d} MB  (created {summary['created']}, "
            f"duplicates {summary['duplicates']}, rejected {summary['rejected']})\n"
            f"{'':<10} floor, read and CSV-split only: {floor_seconds:5.1f} s "
            f"({rows / floor_seconds:,.0f} rows/s, CPU {floor_cpu:4.1f} s); import / floor "
            f"{seconds / floor_seconds:4.1f}; {before} before, {load()} after",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--db", default="sqlite,postgres")
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="postroom-bench-import-") as tmp:
        work = Path(tmp)
        files = [make_file(n, work) for n in (args.small, args.rows) if n]
        for run in range(1, args.runs + 1):
            if "sqlite" in args.db:
                bench("SQLite", files, "", work, run)
            if "postgres" in args.db:
                for path in files:
                    with pg_cluster() as url:
                        bench("PostgreSQL", [path], url, work, run)


if __name__ == "__main__":
    main()
