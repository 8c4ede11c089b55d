"""The `postroom` console command.

Each app contributes its commands from its own `cli.py` through `register(cli)`;
this module only builds the parser, sets Django up, and turns every domain error
into one line on stderr and a non-zero exit, never a traceback.
"""

import argparse
import importlib
import json
import os
import sys
from collections.abc import Callable
from typing import Any

from postroom.errors import PostroomError

# The one place that lists where commands come from, in the order `--help` shows them.
COMMAND_MODULES = [
    "postroom.web.cli",
    "postroom.audience.cli",
    "postroom.imports.cli",
    "postroom.campaigns.cli",
    "postroom.delivery.cli",
    "postroom.tracking.cli",
    "postroom.api.cli",
]

Handler = Callable[[argparse.Namespace], int | None]


class CLI:
    """Hands apps a top-level command or a group (`campaign start`) to hang commands on."""

    def __init__(self) -> None:
        self.parser = argparse.ArgumentParser(
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
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue  # an app whose commands have not arrived yet
        module.register(cli)
    return cli


def command_names() -> set[str]:
    """The top-level commands available, e.g. to see whether `worker` has arrived."""
    return set(build_cli()._top.choices)


def main(argv: list[str] | None = None) -> int:
    cli = build_cli()
    args = cli.parser.parse_args(argv)
    if not getattr(args, "handler", None):
        cli.parser.print_help()
        return 2
    try:
        setup_django()
        return int(args.handler(args) or 0)
    except PostroomError as exc:
        print(f"postroom: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the last line of defence: one line, no traceback
        message = _explain(exc)
        if message is None:
            raise
        print(f"postroom: {message}", file=sys.stderr)
        return 1


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
    if os.environ.get("POSTROOM_TRACEBACK"):
        return None
    return f"unexpected {type(exc).__name__}: {exc} (set POSTROOM_TRACEBACK=1 for details)"


if __name__ == "__main__":
    sys.exit(main())
