"""What the in-process benches share: a throwaway database (a SQLite file, or a PostgreSQL
cluster started for the run) with Django set up and migrated on it, in a temporary folder."""

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def migrated_database(kind: str, prefix: str) -> Iterator[Path]:
    """Yield the run's working folder once Django is set up on a fresh `kind` database."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        workdir = Path(tmp)
        if kind == "postgres":
            from postroom.testing.pgcluster import pg_cluster

            cluster = pg_cluster()
        else:
            cluster = contextlib.nullcontext(f"sqlite:///{workdir / 'bench.sqlite3'}")
        with cluster as url:
            os.environ["DATABASE_URL"] = url
            os.environ["POSTROOM_DATA_DIR"] = str(workdir / "var")
            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "postroom.settings")
            import django

            django.setup()
            from django.core.management import call_command

            call_command("migrate", verbosity=0)
            yield workdir
