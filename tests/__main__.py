"""Run the whole suite on SQLite, then on a throwaway PostgreSQL cluster.

    python -m tests [pytest arguments]

Set POSTROOM_TEST_DBS=sqlite (or postgres) to run on one database only.
"""

import os
import subprocess
import sys

from postroom.testing.pgcluster import pg_cluster


def run_pytest(label: str, extra_env: dict[str, str], args: list[str]) -> int:
    print(f"\n=== test suite on {label} ===", flush=True)
    env = {**os.environ, **extra_env}
    return subprocess.call([sys.executable, "-m", "pytest", *args], env=env)


def main() -> int:
    args = sys.argv[1:]
    wanted = os.environ.get("POSTROOM_TEST_DBS", "sqlite,postgres").split(",")
    results: dict[str, int] = {}
    if "sqlite" in wanted:
        results["SQLite"] = run_pytest("SQLite", {"DATABASE_URL": ""}, args)
    if "postgres" in wanted:
        # Tests marked `once` already ran on SQLite (unless a -m of the caller's decides).
        again = args if "sqlite" not in wanted or "-m" in args else ["-m", "not once", *args]
        with pg_cluster() as url:
            results["PostgreSQL"] = run_pytest("PostgreSQL", {"DATABASE_URL": url}, again)
    print()
    for label, code in results.items():
        print(f"{label}: {'passed' if code == 0 else f'FAILED (exit {code})'}")
    return max(results.values(), default=0)


if __name__ == "__main__":
    sys.exit(main())
