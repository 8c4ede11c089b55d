"""The `postroom` console command.

Each app contributes its commands from its own `cli.py` through `register(cli)`;
this module only builds the parser, sets Django up, and turns every domain error
into one line on stderr and a non-zero exit, never a traceback.
"""

import argparse
import getpass
import importlib
import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from postroom.errors import InvalidInput, PostroomError
from postroom.integers import ID_MAX, as_id

# The one place that lists where commands come from, in the order `--help` shows them.
COMMAND_MODULES = [
    "postroom.web.cli",
    "postroom.audience.cli",
    "postroom.imports.cli",
    "postroom.campaigns.cli",
    "postroom.abtests.cli",
    "postroom.feeds.cli",
    "postroom.delivery.cli",
    "postroom.tracking.cli",
    "postroom.webhooks.cli",
    "postroom.transactional.cli",
    "postroom.automations.cli",
    "postroom.api.cli",
    "postroom.accounts.cli",
]

Handler = Callable[[argparse.Namespace], int | None]
# What a shell reports for a process a closed pipe stopped (128 + SIGPIPE), as `yes | head` does.
EXIT_BROKEN_PIPE = 141


class Parser(argparse.ArgumentParser):
    """argparse with the CLI's error contract: one line on stderr, exit 2, no usage dump."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"postroom: {message} (see {self.prog} --help)\n")


def whole_number(low: int, high: int) -> Callable[[str], int]:
    """An argparse type for a count or size within what the databases can take."""

    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{raw!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{raw} is not between {low:,} and {high:,}")
        return value

    return parse


def record_id(raw: str) -> int:
    """An argparse type for an ID: a whole number a database key can hold."""
    value = as_id(raw)
    if value is None:
        raise argparse.ArgumentTypeError(f"{raw!r} is not an ID (a whole number from 1)")
    return value


def output_file(raw: str) -> str:
    """An argparse type for a file to write: refused at once when it could not be written,
    so a long import never runs first and fails at its report."""
    path = Path(raw)
    folder = path.parent
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{raw} is a folder, not a file")
    if not folder.is_dir():
        raise argparse.ArgumentTypeError(f"cannot write {raw}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise argparse.ArgumentTypeError(f"cannot write {raw}: permission denied")
    return raw


_DURATION = re.compile(r"^\s*(\d+)\s*(m|min|minutes?|h|hours?|d|days?)?\s*$", re.I)


def duration_minutes(raw: str) -> int:
    """`240`, `30m`, `4h` or `2d` as minutes."""
    match = _DURATION.match(raw)
    if not match:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a duration such as 30m, 4h or 2d")
    unit = (match.group(2) or "m")[0].lower()
    return int(match.group(1)) * {"m": 1, "h": 60, "d": 1440}[unit]


COUNT = whole_number(0, ID_MAX)  # a --limit: SQL's LIMIT takes a 64-bit integer


class CLI:
    """Hands apps a top-level command or a group (`campaign start`) to hang commands on."""

    def __init__(self) -> None:
        self.parser = Parser(
            prog="postroom", description="Postroom: self-hosted newsletters and campaigns."
        )
        self._top = self.parser.add_subparsers(dest="command", metavar="COMMAND")
        self._groups: dict[str, argparse._SubParsersAction] = {}

    def command(self, name: str, help: str, handler: Handler, group: str | None = None):
        """Add `postroom [group] name`; returns its parser so the caller adds arguments."""
        parent = self._group(group) if group else self._top
        parser = parent.add_parser(name, help=help, description=help)
        parser.set_defaults(handler=handler)
        return parser

    def _group(self, name: str) -> argparse._SubParsersAction:
        if name not in self._groups:
            parser = self._top.add_parser(name, help=f"{name} commands")
            parser.set_defaults(handler=lambda args, p=parser: p.print_help() or 2)
            self._groups[name] = parser.add_subparsers(dest=f"{name}_command", metavar="ACTION")
        return self._groups[name]


def read_bytes(path: Path, what: str) -> bytes:
    """A file given on the command line, or one line saying why it cannot be read."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InvalidInput(f"{what} {path} does not exist") from None
    except OSError as exc:
        raise InvalidInput(f"{what} {path} cannot be read: {exc.strerror}") from None


def read_text(path: Path, what: str) -> str:
    try:
        return read_bytes(path, what).decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"{what} {path} is not UTF-8 text") from None


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")


def emit(args: argparse.Namespace, data: Any, text: str | Callable[[], str]) -> None:
    """Print `data` as JSON with --json, otherwise the human text."""
    if getattr(args, "json", False):
        print(json.dumps(data, indent=2, default=str, ensure_ascii=False))
    else:
        print(text() if callable(text) else text)


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "postroom.settings")
    import django

    django.setup()


def build_cli() -> CLI:
    cli = CLI()
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(cli)
    return cli


def main(argv: list[str] | None = None) -> int:
    cli = build_cli()
    args = cli.parser.parse_args(argv)
    if not getattr(args, "handler", None):
        cli.parser.print_help()
        return 2
    try:
        setup_django()
        code = int(args.handler(args) or 0)
        sys.stdout.flush()  # a reader that went away shows here, not in Python's exit
        _audit(args, argv, f"done (exit {code})" if code == 0 else f"not done (exit {code})")
        return code
    except PostroomError as exc:
        print(f"postroom: {exc}", file=sys.stderr)
        _audit(args, argv, f"not done: {exc}")
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except Exception as exc:  # the last line of defence: one line, no traceback
        message = _explain(exc)
        if message is None:
            raise
        print(f"postroom: {message}", file=sys.stderr)
        return 1


def _audit(args: argparse.Namespace, argv: list[str] | None, outcome: str) -> None:
    """Record the command in the audit log as "cli:<OS user>" (accounts.audit says which
    commands are left out). A log that cannot be written changes no exit code; it warns
    after a command that worked (a failed one has said its one line already)."""
    words = [args.command, getattr(args, f"{args.command}_command", None)]
    command = " ".join(w for w in words if w)
    try:
        # Here, not at the top: the models can only be imported once Django is set up.
        from postroom.accounts.audit import record_command

        record_command(command, sys.argv[1:] if argv is None else argv, outcome, _os_user())
    except Exception as exc:
        if outcome.startswith("done"):
            print(f"postroom: warning: not recorded in the audit log ({exc})", file=sys.stderr)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no name for this uid (a bare container)
        return f"uid {os.getuid()}"


def _quiet_broken_pipe() -> int:
    """The reader went away (`postroom subscribers list | head -1`): stop quietly, as Unix
    tools do. Pointing stdout at /dev/null keeps Python's flush at exit from failing again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return EXIT_BROKEN_PIPE


def _explain(exc: Exception) -> str | None:
    """A one-line explanation for infrastructure failures a user can fix."""
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import CommandError
    from django.db import DatabaseError

    if isinstance(exc, DatabaseError):
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"database error: {first}"
    if isinstance(exc, ImproperlyConfigured):
        return f"configuration error: {exc}"
    if isinstance(exc, CommandError):  # from a wrapped Django command (migrate, check)
        return str(exc).strip().splitlines()[0]
    # Not a setting: the error being explained may be the settings failing to load.
    if os.environ.get("POSTROOM_TRACEBACK"):
        return None
    return f"unexpected {type(exc).__name__}: {exc} (set POSTROOM_TRACEBACK=1 for details)"


if __name__ == "__main__":
    sys.exit(main())
