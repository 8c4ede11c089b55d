"""`postroom import`, `postroom export` and `postroom imports list|resume|report`."""

import argparse
import getpass
import sys
from pathlib import Path

from postroom.cli import CLI, add_json_flag, emit, output_file, record_id
from postroom.errors import NotFound
from postroom.imports import tools


def register(cli: CLI) -> None:
    p = cli.command(
        "import",
        "Import contacts from a CSV, .xlsx or .ods file, or a ZIP of CSV files "
        "(such as a Mailchimp audience export), in the foreground.",
        import_cmd,
    )
    p.add_argument("file", metavar="FILE")
    p.add_argument("--list", action="append", default=[], metavar="NAME", dest="lists")
    p.add_argument("--dry-run", action="store_true", help="count what would happen, write nothing")
    p.add_argument("--delimiter", default="auto", help="auto, ',', ';', tab or '|'")
    p.add_argument("--encoding", default="auto", help="auto or a Python codec name")
    p.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="COLUMN=FIELD",
        help="FIELD: email, name, first_name, last_name, status, list_status, tags, "
        "attributes (a JSON object), optin_time, optin_ip, confirm_time, confirm_ip, "
        "unsubscribed_at, bounced_at, unsubscribed_flag, blocklisted_flag, ignore, "
        "or an attribute name",
    )
    p.add_argument(
        "--rejects",
        type=output_file,
        metavar="OUT.csv",
        help="write the rejected rows to this file",
    )
    p.add_argument(
        "--mode",
        default="subscribe",
        choices=["subscribe", "update", "skip-existing", "blocklist"],
        help="subscribe: add new, subscribe everyone; update: also update existing "
        "subscribers' name and attributes; skip-existing: leave existing ones untouched; "
        "blocklist: blocklist every address",
    )
    p.add_argument(
        "--confirmed", action="store_true", help="the contacts already confirmed their consent"
    )
    p.add_argument(
        "--status",
        default="auto",
        choices=["auto", *tools.STATES],
        help="the state of every row whose own columns give none; auto: what the file "
        "says (a Mailchimp unsubscribed export is unsubscribed). A file that looks like "
        "people who left, with no status column, needs one",
    )
    p.add_argument(
        "--resubscribe-unsubscribed",
        action="store_true",
        dest="resubscribe",
        help="subscribe again people who had unsubscribed (never those who bounced, "
        "complained or were blocklisted); kept with the import and logged",
    )
    add_json_flag(p)

    p = cli.command("export", "Export subscribers as CSV (streamed).", export_cmd)
    which = p.add_mutually_exclusive_group()
    which.add_argument("--list", metavar="NAME")
    which.add_argument("--segment", metavar="NAME")
    p.add_argument(
        "--out", type=output_file, metavar="FILE", help="write here instead of standard output"
    )

    p = cli.command("list", "Recent imports.", list_cmd, group="imports")
    add_json_flag(p)
    p = cli.command(
        "resume", "Resume a stopped import where it stopped.", resume_cmd, group="imports"
    )
    p.add_argument("id", type=record_id)
    add_json_flag(p)
    p = cli.command(
        "report",
        "The rows an import did not import (rejected, duplicates) as CSV, to fix and re-import.",
        report_cmd,
        group="imports",
    )
    p.add_argument("id", type=record_id)
    p.add_argument("--out", type=output_file, metavar="FILE")


def import_cmd(args: argparse.Namespace) -> int:
    from postroom.imports import services
    from postroom.imports.detect import parse_delimiter, parse_mapping

    imp = services.prepare(
        Path(args.file),
        lists=args.lists,
        mode=args.mode,
        confirmed=args.confirmed,
        encoding=None if args.encoding in ("", "auto") else args.encoding,
        delimiter=parse_delimiter(args.delimiter),
        mapping=parse_mapping(args.map),
        status=None if args.status == "auto" else args.status,
        resubscribe=args.resubscribe,
        actor=f"command line ({_user()})",
    )
    bar = _ProgressBar(imp.file_size)
    if args.dry_run:
        try:
            counts = services.preview(imp, progress=bar)
            said = services.recognised(imp, counts["states"])
        finally:
            services.discard(imp)  # a dry run leaves nothing behind
        bar.close()
        result = {**counts, "dry_run": True, "recognised": said}
        emit(args, result, lambda: _summary_text(result, dry_run=True))
        return 0
    return _run(args, services, imp, bar)


def _user() -> str:
    """Who runs the command, for the override's record (a container may have no name)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown user"


def resume_cmd(args: argparse.Namespace) -> int:
    from postroom.imports import services
    from postroom.imports.models import Import

    imp = _get(args.id)
    if imp.status == Import.Status.RUNNING:
        imp = services.claim(imp.pk)
        if imp is None:
            print("postroom: the import is running in another process", file=sys.stderr)
            return 1
        return _run(args, services, imp, _ProgressBar(imp.file_size), claimed=True)
    services.start(imp)
    return _run(args, services, imp, _ProgressBar(imp.file_size))


def _run(args, services, imp, bar, claimed: bool = False) -> int:
    if not claimed:
        if imp.status == "draft":
            services.start(imp)
        imp = services.claim(imp.pk)
    services.execute(imp, progress=bar)
    bar.close()
    if getattr(args, "rejects", None):
        with open(args.rejects, "w", newline="", encoding="utf-8") as out:
            services.write_rejects(imp, out)
    summary = {**imp.summary(), "recognised": services.recognised(imp, imp.states, future=False)}
    emit(args, summary, lambda: _summary_text(summary))
    return 0 if imp.status == "finished" else 1


def list_cmd(args: argparse.Namespace) -> int:
    from postroom.imports.models import Import

    imports = list(Import.objects.all()[:50])
    data = [
        {**imp.summary(), "file": imp.file_name, "created_at": imp.created_at.isoformat()}
        for imp in imports
    ]
    emit(
        args,
        data,
        lambda: (
            "\n".join(
                f"{d['id']:>5}  {d['status']:<9} {d['rows']:>8} rows  {d['file']}" for d in data
            )
            or "no imports yet"
        ),
    )
    return 0


def report_cmd(args: argparse.Namespace) -> int:
    from postroom.imports import services

    imp = _get(args.id)
    if args.out:
        with open(args.out, "w", newline="", encoding="utf-8") as out:
            services.write_rejects(imp, out)
    else:
        services.write_rejects(imp, sys.stdout)
    return 0


def export_cmd(args: argparse.Namespace) -> int:
    from postroom.audience.services import get_list, get_segment
    from postroom.imports import export

    qs = export.subscribers_for(
        get_list(args.list) if args.list else None,
        get_segment(args.segment) if args.segment else None,
    )
    if args.out:
        with open(args.out, "w", newline="", encoding="utf-8") as out:
            count = export.write_csv(qs, out)
        print(f"exported {count} subscribers to {args.out}", file=sys.stderr)
    else:
        export.write_csv(qs, sys.stdout)  # `| head` is fine: main() stops quietly
    return 0


def _get(import_id: int):
    from postroom.imports.models import Import

    try:
        return Import.objects.get(pk=import_id)
    except Import.DoesNotExist:
        raise NotFound(f"no import {import_id}") from None


def _summary_text(s: dict, dry_run: bool = False) -> str:
    head = "dry run, nothing written: " if dry_run else ""
    said = "".join(f"{line}\n" for line in s.get("recognised", []))
    text = said + (
        f"{head}{s['rows']} rows: {s['created']} created, {s['updated']} updated, "
        f"{s['unchanged']} unchanged, {s['duplicates']} duplicates, {s['rejected']} rejected"
    )
    if s.get("repaired"):
        text += f" ({s['repaired']} repaired)"
    if s.get("resubscribed"):
        text += f"\n{s['resubscribed']} people who had unsubscribed subscribed again (override)"
    if s.get("error"):
        text += f"\n{s['error']}"
    if s.get("id") and (s.get("rejected") or s.get("duplicates")):
        text += f"\nrejected and duplicate rows: postroom imports report {s['id']}"
    return text


class _ProgressBar:
    """A one-line progress bar on stderr, only when stderr is a terminal."""

    def __init__(self, total: int) -> None:
        self.total = max(total, 1)
        self.enabled = sys.stderr.isatty()
        self.shown = False

    def __call__(self, imp) -> None:
        if not self.enabled:
            return
        share = min(imp.bytes_done / self.total, 1.0)
        filled = int(share * 30)
        sys.stderr.write(
            f"\r[{'#' * filled}{'.' * (30 - filled)}] {share:4.0%} {imp.rows:>9} rows "
            f"{imp.rejected:>7} rejected"
        )
        sys.stderr.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            sys.stderr.write("\n")
            sys.stderr.flush()
