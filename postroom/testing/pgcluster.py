"""A throwaway PostgreSQL cluster for tests and benchmarks.

It needs only the server binaries (`initdb`, `pg_ctl`, `postgres`): no server
is assumed to be running. The cluster listens on a unix socket in a temporary
directory, so it cannot clash with anything else on the machine, and is torn
down on exit. As root (CI), the server runs as the `postgres` user because
PostgreSQL refuses to run as root.
"""

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import urllib.parse
from collections.abc import Iterator
from pathlib import Path


def _find(binary: str) -> str:
    found = shutil.which(binary)
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{binary}"), reverse=True):
        return str(candidate)
    raise RuntimeError(f"{binary} not found: install PostgreSQL (apt-get install postgresql)")


def _run_as(user: str | None, argv: list[str]) -> None:
    if user:
        argv = ["runuser", "-u", user, "--", *argv]
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@contextlib.contextmanager
def pg_cluster(database: str = "postroom", *, fast: bool = True) -> Iterator[str]:
    """Start a fresh cluster and yield a DATABASE_URL for `database` in it."""
    user = "postgres" if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="postroom-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    if user:
        info = pwd.getpwnam(user)
        os.chown(root, info.pw_uid, info.pw_gid)
        os.chown(sock, info.pw_uid, info.pw_gid)
    options = f"-c listen_addresses='' -c unix_socket_directories='{sock}' -c max_connections=200"
    if fast:  # durability is pointless for a database that is thrown away
        options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    try:
        _run_as(
            user,
            [
                _find("initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
            ],
        )
        _run_as(
            user,
            [
                _find("pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "-l",
                str(root / "server.log"),
                "start",
            ],
        )
        try:
            _run_as(user, [_find("createdb"), "-h", str(sock), "-U", "postgres", database])
            yield f"postgresql://postgres@{urllib.parse.quote(str(sock), safe='')}/{database}"
        finally:
            _run_as(user, [_find("pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"])
    finally:
        shutil.rmtree(root, ignore_errors=True)
