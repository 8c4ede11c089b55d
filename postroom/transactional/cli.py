"""`postroom tx send|status|list|template-add|templates`: transactional mail from a shell.

The same `services.accept` as `POST /api/tx`, so a script and a shop get the same checks.
"""

import argparse
import json
from pathlib import Path
from typing import Any

from postroom.cli import CLI, add_json_flag, emit, read_bytes, read_text, record_id
from postroom.errors import InvalidInput


def register(cli: CLI) -> None:
    p = cli.command("send", "queue a transactional message (a receipt, a reset)", send, group="tx")
    p.add_argument("--to", action="append", required=True, help="recipient (repeatable)")
    p.add_argument("--subject", default="", help="a template; replaces a stored template's")
    p.add_argument("--body-file", type=Path, help="the body, a template in --format")
    p.add_argument("--format", choices=("markdown", "html", "plain"), default="markdown")
    p.add_argument("--template", help="a stored transactional template, by name or id")
    p.add_argument("--layout", help="a layout, by name, around --body-file")
    p.add_argument("--data", default="{}", help="a JSON object the templates read as `data`")
    p.add_argument("--from", dest="from_address", default="", help='"Name <address>" or address')
    p.add_argument("--sender", help="the sender, by name")
    p.add_argument("--idempotency-key", help="the same key is never sent twice")
    p.add_argument("--attach", type=Path, action="append", default=[], help="a file (repeatable)")
    add_json_flag(p)
    p = cli.command("status", "where a transactional message is", status, group="tx")
    p.add_argument("id", type=record_id)
    add_json_flag(p)
    p = cli.command("list", "the newest transactional messages", list_messages, group="tx")
    p.add_argument("--status", choices=("queued", "sent", "failed", "in_doubt"))
    p.add_argument("--to", default="", help="recipient address contains")
    p.add_argument("--limit", type=int, default=50)
    add_json_flag(p)
    p = cli.command("template-add", "store a transactional template", template_add, group="tx")
    p.add_argument("name")
    p.add_argument("--subject", required=True)
    p.add_argument("--body-file", type=Path, required=True)
    p.add_argument("--format", choices=("markdown", "html", "plain"), default="markdown")
    p.add_argument("--layout", help="a layout, by name")
    p.add_argument("--from", dest="from_address", default="")
    p.add_argument("--sender", help="the sender its messages go through by default")
    add_json_flag(p)
    p = cli.command("templates", "list transactional templates", templates, group="tx")
    add_json_flag(p)


def _data(raw: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise InvalidInput(f"--data is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise InvalidInput("--data must be a JSON object")
    return value


def _status_line(row: dict[str, Any]) -> str:
    detail = row["reply"] if row["status"] == "sent" else row["error"] or row["reply"]
    tail = f" — {detail}" if detail else ""
    return f"{row['id']:>6}  {row['status']:<8}  {row['to']}  {row['subject']!r}{tail}"


def send(args: argparse.Namespace) -> None:
    from postroom.transactional import services
    from postroom.transactional.models import TxMessage

    request = services.TxRequest(
        to=args.to,
        subject=args.subject,
        body=read_text(args.body_file, "body file") if args.body_file else "",
        body_format=args.format,
        template=services.get_template(args.template) if args.template else None,
        layout=args.layout,
        data=_data(args.data),
        from_address=args.from_address,
        sender=args.sender,
        idempotency_key=args.idempotency_key,
        attachments=[services.Attachment(p.name, read_bytes(p, "attachment")) for p in args.attach],
        source=TxMessage.Source.CLI,
    )
    accepted = services.accept(request)
    rows = [services.status(m) for m in accepted.messages]
    data = {"id": rows[0]["id"], "ids": [r["id"] for r in rows], "status": rows[0]["status"],
            "duplicate": accepted.duplicate}  # fmt: skip
    word = "already queued (same idempotency key)" if accepted.duplicate else "queued"
    emit(args, data, lambda: "\n".join(f"{word}: {_status_line(r)}" for r in rows))


def status(args: argparse.Namespace) -> None:
    from postroom.transactional import services

    row = services.status(services.get_message(args.id))
    emit(args, row, lambda: _status_line(row))


def list_messages(args: argparse.Namespace) -> None:
    from postroom.transactional import services

    rows = [services.status(m) for m in services.log(args.status, args.to)[: max(1, args.limit)]]
    emit(args, rows, lambda: "\n".join(map(_status_line, rows)) or "no transactional messages")


def template_add(args: argparse.Namespace) -> None:
    from postroom.transactional import templates as stored

    template = stored.create(
        name=args.name,
        subject=args.subject,
        body=read_text(args.body_file, "body file"),
        body_format=args.format,
        layout=args.layout,
        from_address=args.from_address,
        sender=args.sender,
    )
    emit(args, {"id": template.pk, "name": template.name},
         f"template {template.pk} ({template.name}) stored")  # fmt: skip


def templates(args: argparse.Namespace) -> None:
    from postroom.transactional import services
    from postroom.transactional.models import TxTemplate

    rows = [
        services.template_json(t) for t in TxTemplate.objects.select_related("layout", "sender")
    ]
    emit(
        args,
        rows,
        lambda: (
            "\n".join(f"{r['id']:>4}  {r['name']}  {r['subject']!r}" for r in rows)
            or "no transactional templates"
        ),
    )
