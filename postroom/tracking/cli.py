"""`postroom bounces ingest|list`: bounce and complaint reports from files or stdin."""

import argparse
import sys
from typing import Any

from postroom.cli import CLI, COUNT, add_json_flag, emit


def register(cli: CLI) -> None:
    p = cli.command(
        "ingest",
        "read bounce and complaint reports (an mbox, a Maildir, a folder or file of .eml, "
        "or - for stdin), suppress what they say",
        ingest,
        group="bounces",
    )
    p.add_argument("source", metavar="FILE|DIR|-")
    add_json_flag(p)
    p = cli.command("list", "the latest bounces and complaints", list_bounces, group="bounces")
    p.add_argument("--limit", type=COUNT, default=50)
    p.add_argument("--kind", choices=["hard", "soft", "complaint"])
    add_json_flag(p)


def ingest(args: argparse.Namespace) -> None:
    from postroom.tracking import bounces

    messages = bounces.messages_at(args.source, sys.stdin.buffer)
    summary = bounces.ingest_messages(messages, source="ingest")
    data = summary.as_dict()
    emit(
        args,
        data,
        lambda: (
            f"{data['messages']} message(s): {data['hard']} hard, {data['soft']} soft, "
            f"{data['complaints']} complaint(s), {data['duplicates']} seen before, "
            f"{data['unrecognised']} not a bounce; {data['suppressed']} address(es) suppressed"
        ),
    )


def list_bounces(args: argparse.Namespace) -> None:
    from postroom.tracking.models import Bounce

    rows = Bounce.objects.all()
    if args.kind:
        rows = rows.filter(kind=args.kind)
    data: list[dict[str, Any]] = [
        {
            "email": b.email,
            "kind": b.kind,
            "status": b.status,
            "reason": b.reason,
            "campaign": b.campaign_id,
            "at": b.at.isoformat(),
        }
        for b in rows[: args.limit]
    ]
    emit(
        args,
        data,
        lambda: (
            "\n".join(
                f"{r['at'][:19]}  {r['kind']:<9} {r['status'] or '-':<7} "
                f"{r['email']}  {r['reason']}"
                for r in data
            )
            or "no bounces"
        ),
    )
