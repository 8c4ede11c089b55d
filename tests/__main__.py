"""Run the whole suite on SQLite and on a throwaway PostgreSQL cluster, both at once.

    python -m tests [pytest arguments]

Set POSTROOM_TEST_DBS=sqlite (or postgres) to run on one database only; its output
then streams as usual. With both, the two passes run side by side — most of the
suite waits on real servers, workers and browsers, not on the CPU, so together they
take little longer than the longer one alone — each with its own temporary
directory and its output in a log file (named at the start, printed whole when the
pass ends), so the two never interleave.
"""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from postroom.testing.pgcluster import pg_cluster


def pytest_command(args: list[str], basetemp: Path | None = None) -> list[str]:
    extra = [f"--basetemp={basetemp}"] if basetemp else []
    return [sys.executable, "-m", "pytest", *extra, *args]


def run_alone(label: str, env: dict[str, str], args: list[str]) -> int:
    print(f"\n=== test suite on {label} ===", flush=True)
    return subprocess.call(pytest_command(args), env={**os.environ, **env})


def run_together(passes: dict[str, tuple[dict[str, str], list[str]]]) -> dict[str, int]:
    """Start every pass, print each one's log when it ends; their exit codes."""
    folder = Path(tempfile.mkdtemp(prefix="postroom-tests-"))
    running = {}
    started = time.monotonic()
    for label, (env, args) in passes.items():
        name = label.lower()
        log = folder / f"{name}.log"
        print(f"=== test suite on {label}: running, output in {log} ===", flush=True)
        handle = log.open("w")
        command = pytest_command(args, folder / f"tmp-{name}")
        process = subprocess.Popen(
            command, env={**os.environ, **env}, stdout=handle, stderr=subprocess.STDOUT
        )
        running[label] = (process, handle, log)
    results: dict[str, int] = {}
    while running:
        for label, (process, handle, log) in list(running.items()):
            code = process.poll()
            if code is None:
                continue
            handle.close()
            minutes = (time.monotonic() - started) / 60
            print(f"\n=== test suite on {label} (ended after {minutes:.0f} min) ===", flush=True)
            sys.stdout.write(log.read_text(errors="replace"))
            sys.stdout.flush()
            results[label] = code
            del running[label]
        time.sleep(1)
    return results


def main() -> int:
    args = sys.argv[1:]
    wanted = os.environ.get("POSTROOM_TEST_DBS", "sqlite,postgres").split(",")
    results: dict[str, int] = {}
    sqlite = ({"DATABASE_URL": ""}, args)
    if "postgres" not in wanted:
        if "sqlite" in wanted:
            results["SQLite"] = run_alone("SQLite", *sqlite)
    else:
        # Tests marked `once` run in the SQLite pass only (unless a -m of the caller's decides).
        again = args if "sqlite" not in wanted or "-m" in args else ["-m", "not once", *args]
        with pg_cluster() as url:
            postgres = ({"DATABASE_URL": url}, again)
            if "sqlite" in wanted:
                results = run_together({"SQLite": sqlite, "PostgreSQL": postgres})
            else:
                results["PostgreSQL"] = run_alone("PostgreSQL", *postgres)
    print()
    for label, code in results.items():
        print(f"{label}: {'passed' if code == 0 else f'FAILED (exit {code})'}")
    return max(results.values(), default=0)


if __name__ == "__main__":
    sys.exit(main())
