"""`postroom bounces ingest|list|poll|mailbox-add|mailboxes`: bounce and complaint reports
from files, stdin and the bounce mailboxes the worker polls."""

import argparse
import sys
from typing import Any

from postroom import credentials
from postroom.cli import CLI, COUNT, add_json_flag, emit
from postroom.errors import InvalidInput, NotFound


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

    p = cli.command(
        "mailbox-add",
        "add an IMAP or POP3 mailbox the worker polls for bounces and complaints",
        mailbox_add,
        group="bounces",
    )
    p.add_argument("name")
    p.add_argument("--protocol", choices=["imap", "pop3"], default="imap")
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, default=0, help="default: 993/143 IMAP, 995/110 POP3")
    p.add_argument("--tls", choices=["none", "starttls", "tls"], default="tls")
    p.add_argument("--no-verify", action="store_true", help="accept any TLS certificate")
    p.add_argument("--user", required=True)
    p.add_argument(
        "--password-env", required=True, metavar="VAR", help="the environment variable with it"
    )
    p.add_argument("--folder", default="INBOX", help="the IMAP folder to read")
    p.add_argument(
        "--processed",
        choices=["move", "delete"],
        default=None,
        help="what to do with a message once recorded (default: move for IMAP, delete for POP3)",
    )
    p.add_argument("--move-to", default="Processed", metavar="FOLDER")
    p.add_argument("--sender", metavar="NAME", help="the sender whose bounces arrive here")
    p.add_argument("--interval", type=COUNT, default=300, help="seconds between polls")
    add_json_flag(p)
    p = cli.command(
        "mailboxes",
        "the bounce mailboxes, their state and last error",
        mailbox_list,
        group="bounces",
    )
    add_json_flag(p)
    p = cli.command(
        "poll", "poll the bounce mailboxes now (all, or the one named)", poll, group="bounces"
    )
    p.add_argument("name", nargs="?")
    add_json_flag(p)


def mailbox_add(args: argparse.Namespace) -> None:
    from postroom.delivery.models import Sender
    from postroom.tracking import mailboxes

    password = credentials.from_environment(args.password_env)
    if not password:
        raise InvalidInput(f"the environment variable {args.password_env} is empty or not set")
    sender = None
    if args.sender:
        sender = Sender.objects.filter(name=args.sender).first()
        if sender is None:
            raise NotFound(f"no sender named {args.sender!r}")
    box = mailboxes.create_mailbox(
        name=args.name,
        protocol=args.protocol,
        host=args.host,
        port=args.port,
        tls=args.tls,
        verify_certificate=not args.no_verify,
        username=args.user,
        password=password,
        folder=args.folder,
        processed=args.processed or ("move" if args.protocol == "imap" else "delete"),
        move_to=args.move_to,
        sender=sender,
        interval_seconds=args.interval,
    )
    emit(args, mailboxes.describe(box), f"bounce mailbox {box.name!r} added (id {box.pk})")


def _mailbox_line(info: dict[str, Any]) -> str:
    where = f"{info['protocol']}://{info['username']}@{info['host']}:{info['port']}"
    error = f"  last error: {info['last_error']}" if info["state"] == "failing" else ""
    return f"{info['name']:<20} {info['state']:<13} {where}{error}"


def mailbox_list(args: argparse.Namespace) -> None:
    from postroom.tracking import mailboxes
    from postroom.tracking.models import BounceMailbox

    data = [mailboxes.describe(b) for b in BounceMailbox.objects.select_related("sender")]
    emit(args, data, lambda: "\n".join(map(_mailbox_line, data)) or "no bounce mailboxes")


def poll(args: argparse.Namespace) -> int:
    from postroom.tracking import mailboxes
    from postroom.tracking.models import BounceMailbox

    boxes = BounceMailbox.objects.filter(enabled=True)
    if args.name:
        boxes = BounceMailbox.objects.filter(name=args.name)
        if not boxes.exists():
            raise NotFound(f"no bounce mailbox named {args.name!r}")
    results: list[dict[str, Any]] = []
    for box in boxes:
        try:
            summary = mailboxes.poll(box)
        except mailboxes.MailboxError as exc:
            results.append({"name": box.name, "error": str(exc)})
            continue
        results.append({"name": box.name, "error": "", **summary.as_dict()})
    emit(
        args,
        results,
        lambda: (
            "\n".join(
                f"{r['name']}: " + (f"failed: {r['error']}" if r["error"] else _counts(r))
                for r in results
            )
            or "no bounce mailboxes"
        ),
    )
    return 1 if any(r["error"] for r in results) else 0


def _counts(data: dict[str, Any]) -> str:
    return (
        f"{data['messages']} message(s): {data['hard']} hard, {data['soft']} soft, "
        f"{data['complaints']} complaint(s), {data['duplicates']} seen before, "
        f"{data['unrecognised']} not a bounce; {data['suppressed']} address(es) suppressed"
    )


def ingest(args: argparse.Namespace) -> None:
    from postroom.tracking import bounces

    messages = bounces.messages_at(args.source, sys.stdin.buffer)
    summary = bounces.ingest_messages(messages, source="ingest")
    data = summary.as_dict()
    emit(args, data, lambda: _counts(data))


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
