"""Commands that run Postroom itself: run, serve, createadmin, migrate, check."""

import argparse
import getpass
import os
import secrets
import socket
import sys
import time

from postroom import credentials
from postroom.errors import ConfigurationError, InvalidInput, PostroomError
from postroom.web.processes import Supervisor, ensure_port_free, gunicorn_argv

DEFAULT_PORT = 8000


def register(cli) -> None:
    p = cli.command(
        "run",
        "Run Postroom on this machine: migrate, create the first admin, "
        "start the web UI and the sending worker.",
        run,
    )
    p.add_argument("--port", type=_port, default=DEFAULT_PORT, help="port (default 8000)")

    p = cli.command("serve", "Run the production web server (gunicorn; no worker).", serve)
    p.add_argument("--port", type=_port, default=DEFAULT_PORT, help="port (default 8000)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--workers", type=_positive, default=2, help="web processes (default 2)")
    p.add_argument("--threads", type=_positive, default=4, help="threads each (default 4)")

    p = cli.command(
        "createadmin",
        "Create an operator account (or --reset the password of an existing one).",
        createadmin,
    )
    p.add_argument("--username", default="admin", help="login name (default admin)")
    p.add_argument("--email", default="", help="email address of the operator")
    p.add_argument(
        "--password-env",
        metavar="VAR",
        help="read the password from this environment variable instead of asking",
    )
    p.add_argument("--reset", action="store_true", help="set a new password if the user exists")

    p = cli.command("migrate", "Create or update the database tables.", migrate)
    p.add_argument("app_label", nargs="?", help="only this app")
    p.add_argument("migration", nargs="?", help="migrate to this migration (forwards or back)")
    p.add_argument("--plan", action="store_true", help="show what would run, change nothing")

    p = cli.command(
        "check", "Check the configuration and that the database is reachable and migrated.", check
    )
    p.add_argument("--deploy", action="store_true", help="also run production security checks")


def _port(raw: str) -> int:
    value = _positive(raw)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"{raw} is not a port number")
    return value


def _positive(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{raw} must be at least 1")
    return value


# --- run / serve -------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    host, port = "127.0.0.1", args.port
    ensure_port_free(host, port)
    print("Preparing the database...", flush=True)
    _migrate_quietly()
    password = ensure_first_admin()

    env = dict(os.environ)
    # Links in emails (unsubscribe, view in browser) must point at the port we really use.
    base_url = env.setdefault("POSTROOM_BASE_URL", f"http://{host}:{port}")
    supervisor = Supervisor(env=env, on_exit=_alert_restart)
    started = time.time()
    supervisor.start("web server", gunicorn_argv(host, port, 1, 4, access_log=False))
    supervisor.start("worker", [sys.executable, "-m", "postroom.cli", "worker"])
    if not _wait_until_listening(host, port, supervisor):
        supervisor.stop_all()
        raise PostroomError("the web server did not start; see the messages above")
    # The worker's start-up lines would otherwise land under the banner and push the
    # one-time password off the screen: wait (a bounded while) for its first heartbeat.
    _wait_for_worker(started, supervisor)
    sys.stderr.flush()
    print(banner(base_url, password), flush=True)
    return supervisor.run()


def banner(base_url: str, password: str | None) -> str:
    """The last thing `postroom run` prints at start-up: where to go and how to log in."""
    rule = "=" * 64
    lines = ["", rule, f"  Postroom is running at {base_url}/", ""]
    if password:
        lines += [
            "  Log in as admin with this one-time password (it is shown only once):",
            f"      {password}",
            "  You will be asked to change it; or later: postroom createadmin --reset",
            "",
        ]
    lines += ["  Press Ctrl-C to stop.", rule, ""]
    return "\n".join(lines)


def _wait_for_worker(since: float, supervisor: Supervisor, timeout: float = 15.0) -> None:
    from datetime import UTC, datetime

    from django.db import connections

    from postroom.delivery.models import Worker

    after = datetime.fromtimestamp(since, tz=UTC)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and not supervisor.has_exited("worker"):
            if Worker.objects.filter(last_seen__gte=after).exists():
                time.sleep(0.3)  # its "started" line is written right after the heartbeat
                return
            time.sleep(0.1)
    finally:
        connections.close_all()  # the supervisor holds no connection while it waits


def _alert_restart(name: str, how: str, delay: float) -> None:
    """Tell the admins (dashboard and email) that a child of `postroom run` died."""
    from django.db import connections

    from postroom.alerts import texts
    from postroom.alerts.services import Kind, notify

    notify(
        Kind.PROCESS_RESTARTED,
        f"process_restarted:{name}",
        texts.RESTARTED % {"name": name},
        texts.RESTARTED_TEXT % {"how": how, "delay": f"{delay:g}"},
    )
    connections.close_all()  # the supervisor holds no connection between restarts


def _wait_until_listening(host: str, port: int, supervisor: Supervisor) -> bool:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if supervisor.has_exited("web server"):
            return False
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def serve(args: argparse.Namespace) -> int:
    from django.db import connections

    if _unapplied_migrations():
        raise ConfigurationError("the database is not up to date: run `postroom migrate` first")
    ensure_port_free(args.host, args.port)
    connections.close_all()
    argv = gunicorn_argv(args.host, args.port, args.workers, args.threads, access_log=True)
    sys.stdout.flush()
    # gunicorn takes this process's place, so a service manager's signals reach it directly.
    os.execv(argv[0], argv)
    return 0  # not reached


def ensure_first_admin() -> str | None:
    """On the very first run, create `admin` with a random password and return it."""
    from django.contrib.auth import get_user_model

    from postroom.web import first_run

    User = get_user_model()
    if User.objects.filter(is_staff=True, is_active=True).exists():
        return None
    password = generate_password()
    user, _ = User.objects.get_or_create(username="admin")
    user.is_staff = user.is_superuser = user.is_active = True
    user.set_password(password)
    user.save()
    first_run.issued(user)
    return password


def generate_password() -> str:
    return secrets.token_urlsafe(12)


# --- createadmin -------------------------------------------------------------


def createadmin(args: argparse.Namespace) -> int:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email
    from django.db import transaction

    User = get_user_model()
    username = args.username.strip()
    if not username:
        raise InvalidInput("--username must not be empty")
    if args.email:
        try:
            validate_email(args.email)
        except ValidationError:
            raise InvalidInput(f"{args.email!r} is not a valid email address") from None
    user = User.objects.filter(username=username).first()
    if user and not args.reset:
        raise InvalidInput(f"user {username!r} already exists; add --reset to set a new password")
    user = user or User(username=username)

    password, generated = _choose_password(args)
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise InvalidInput("password refused: " + " ".join(exc.messages)) from None

    with transaction.atomic():
        user.email = args.email or user.email
        user.is_staff = user.is_superuser = user.is_active = True
        user.set_password(password)
        user.save()
    action = "Password reset for" if args.reset and user.pk else "Created"
    print(f"{action} operator {username!r}.")
    if generated:
        print(f"Password: {password}")
    return 0


def _choose_password(args: argparse.Namespace) -> tuple[str, bool]:
    """From --password-env, a prompt on a terminal, or generated; returns (password, generated)."""
    if args.password_env:
        value = credentials.from_environment(args.password_env)
        if not value:
            raise InvalidInput(f"environment variable {args.password_env} is not set or empty")
        return value, False
    if not sys.stdin.isatty():
        return generate_password(), True
    first = getpass.getpass("Password (leave empty to generate one): ")
    if not first:
        return generate_password(), True
    if getpass.getpass("Password again: ") != first:
        raise InvalidInput("the two passwords differ; nothing was changed")
    return first, False


# --- migrate / check ---------------------------------------------------------


def migrate(args: argparse.Namespace) -> int:
    from django.core.management import call_command

    positional = [a for a in (args.app_label, args.migration) if a]
    call_command("migrate", *positional, interactive=False, plan=args.plan, verbosity=1)
    return 0


def _migrate_quietly() -> None:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def _unapplied_migrations() -> list[str]:
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, _ in plan]


def check(args: argparse.Namespace) -> int:
    from django.conf import settings
    from django.core import checks

    found = checks.run_checks(include_deployment_checks=args.deploy, databases=["default"])
    for message in found:
        level = "error" if message.is_serious() else "warning"
        hint = f" ({message.hint})" if message.hint else ""
        print(f"{level} {message.id}: {message.msg}{hint}")
    pending = _unapplied_migrations()
    if pending:
        print(f"error: {len(pending)} migration(s) not applied, e.g. {pending[0]}")
    problems = sum(1 for m in found if m.is_serious()) + (1 if pending else 0)
    if problems:
        raise PostroomError(f"check found {problems} problem(s); see above")
    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    print(f"OK: configuration valid, {engine} database reachable and up to date.")
    return 0
