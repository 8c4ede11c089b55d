"""`postroom automation create|step|step-delete|step-move|activate|pause|status|list|enrol|export`.

Sequences from a shell: the same `services` as the API and the web pages, so each
refuses the same input the same way: one line on stderr, exit 1, nothing changed.
"""

import argparse
import sys
from pathlib import Path

from postroom.campaigns.cli import window_arguments, window_fields
from postroom.cli import CLI, add_json_flag, emit, read_text, record_id
from postroom.errors import InvalidInput


def register(cli: CLI) -> None:
    group = "automation"
    p = cli.command("create", "create a sequence (a draft)", create, group=group)
    p.add_argument("--name", required=True)
    p.add_argument(
        "--trigger",
        required=True,
        help="joined:LIST, confirmed:LIST, segment:NAME, date:ATTRIBUTE or api",
    )
    p.add_argument("--sender", help="the sender, by name (default: the local outbox)")
    p.add_argument("--from", dest="from_address", default="", help="the From address")
    p.add_argument("--from-name", default="")
    p.add_argument("--hour", type=int, default=9, help="date triggers: the local hour (0-23)")
    p.add_argument("--enrol-existing", action="store_true", help="members at activation enter too")
    add_json_flag(p)
    p = cli.command(
        "step", "add a send (or webhook) step at the end of a sequence", step, group=group
    )
    p.add_argument("id", type=record_id)
    p.add_argument("--subject", help="a send step: the subject (with --body-file)")
    p.add_argument("--body-file", type=Path, help="a send step: the body")
    p.add_argument("--format", choices=("markdown", "html", "plain"), default="markdown")
    p.add_argument(
        "--webhook", metavar="ENDPOINT", help="a webhook step instead: the endpoint to call"
    )
    p.add_argument("--wait", default="0", help="wait before it: 3d, 12h, 1d12h, 90m (default 0)")
    p.add_argument("--until", default="", help="then until a local time of day, e.g. 09:00")
    p.add_argument("--weekdays", default="", help="with --until: e.g. mon,tue,wed,thu,fri")
    window_arguments(p, local=False)
    add_json_flag(p)
    p = cli.command("step-delete", "delete a step of a sequence", step_delete, group=group)
    p.add_argument("id", type=record_id)
    p.add_argument("position", type=record_id, help="the step's number")
    add_json_flag(p)
    p = cli.command("step-move", "move a step to another place", step_move, group=group)
    p.add_argument("id", type=record_id)
    p.add_argument("position", type=record_id, help="the step's number")
    p.add_argument("--to", type=record_id, required=True, help="its new number")
    add_json_flag(p)
    for name, handler, text in (
        ("activate", activate, "start or resume a sequence"),
        ("pause", pause, "pause a sequence: nobody moves on"),
    ):
        p = cli.command(name, text, handler, group=group)
        p.add_argument("id", type=record_id)
        add_json_flag(p)
    p = cli.command("status", "a sequence's counts and steps", status, group=group)
    p.add_argument("id", type=record_id)
    add_json_flag(p)
    p = cli.command("list", "every sequence", list_all, group=group)
    add_json_flag(p)
    p = cli.command("enrol", "put a subscriber at the start of a sequence", enrol, group=group)
    p.add_argument("id", type=record_id)
    p.add_argument("--email", required=True)
    add_json_flag(p)
    p = cli.command("export", "each person's place, as CSV on stdout", export, group=group)
    p.add_argument("id", type=record_id)


def create(args: argparse.Namespace) -> None:
    from postroom.automations import services

    automation = services.create(
        name=args.name,
        trigger=args.trigger,
        sender=args.sender,
        from_email=args.from_address,
        from_name=args.from_name,
        local_hour=args.hour,
        enrol_existing=args.enrol_existing,
    )
    emit(args, {"id": automation.pk}, f"created automation {automation.pk}: {automation.name}")


def step(args: argparse.Namespace) -> None:
    from postroom.automations import services

    automation = services.get(args.id)
    waits = {"wait": args.wait, "wait_time": args.until, "wait_weekdays": args.weekdays}
    if args.webhook:
        if args.subject or args.body_file or args.window or args.window_days or args.window_tz:
            raise InvalidInput("a webhook step takes no --subject, --body-file or window")
        added = services.add_step(automation, "webhook", endpoint=args.webhook, **waits)
    else:
        if not args.subject or not args.body_file:
            raise InvalidInput("a send step needs --subject and --body-file (or use --webhook)")
        added = services.add_step(
            automation,
            subject=args.subject,
            body=read_text(args.body_file, "body file"),
            body_format=args.format,
            **window_fields(args),
            **waits,
        )
    emit(
        args,
        {"id": automation.pk, "step": added.position},
        f"automation {automation.pk}: step {added.position}: {services.describe_step(added)}",
    )


def step_delete(args: argparse.Namespace) -> None:
    from postroom.automations import reorder, services

    automation = services.get(args.id)
    reorder.delete_step(automation, args.position)
    _steps_changed(args, automation, f"step {args.position} deleted")


def step_move(args: argparse.Namespace) -> None:
    from postroom.automations import reorder, services

    automation = services.get(args.id)
    reorder.move_step(automation, args.position, args.to)
    _steps_changed(args, automation, f"step {args.position} is now step {args.to}")


def _steps_changed(args: argparse.Namespace, automation, done: str) -> None:
    """The sequence's steps as they are now (JSON: what `status --json` says of them)."""
    from postroom.automations import services

    steps = services.status(automation)["steps"]
    emit(
        args,
        {"id": automation.pk, "steps": steps},
        lambda: (
            f"automation {automation.pk}: {done}\n"
            + "\n".join(f"{s['position']:>3}. {s['text']}" for s in steps)
        ),
    )


def activate(args: argparse.Namespace) -> None:
    from postroom.automations import services

    automation = services.activate(services.get(args.id))
    emit(args, {"id": automation.pk, "status": automation.status}, f"{automation} is active")


def pause(args: argparse.Namespace) -> None:
    from postroom.automations import services

    automation = services.pause(services.get(args.id))
    emit(args, {"id": automation.pk, "status": automation.status}, f"{automation} is paused")


def _status_text(data: dict) -> str:
    lines = [
        f"{data['id']}  {data['name']}  {data['status']}  ({data['trigger']})",
        f"  enrolled {data['enrolled']}, in it now {data['active']}, completed"
        f" {data['completed']}, stopped {data['stopped']}",
    ]
    for s in data["steps"]:
        lines.append(
            f"  {s['position']:>2}. {s['text']}  — waiting {s['waiting']}, sent {s['sent']}"
        )
    if data["skipped"]:
        gap = data["skipped"]
        lines.append(
            f"  skipped {gap['people']} whose date came after {gap['after']}, to {gap['until']}"
            " (no scan then; too late to catch up)"
        )
    return "\n".join(lines)


def status(args: argparse.Namespace) -> None:
    from postroom.automations import services

    data = services.status(services.get(args.id))
    emit(args, data, lambda: _status_text(data))


def list_all(args: argparse.Namespace) -> None:
    from postroom.automations import services
    from postroom.automations.models import Automation

    rows = [services.json_of(a) for a in Automation.objects.select_related("sender")]
    emit(
        args,
        rows,
        lambda: "\n".join(f"{r['id']:>4}  {r['status']:<7} {r['name']}  ({r['trigger_text']})"
                          for r in rows) or "no automations",
    )  # fmt: skip


def enrol(args: argparse.Namespace) -> None:
    from postroom.audience import services as audience
    from postroom.automations import services

    automation = services.get(args.id)
    enrolment = services.enrol(automation, audience.get_subscriber(args.email))
    emit(
        args,
        {"id": enrolment.pk, "automation": automation.pk, "state": enrolment.state},
        f"{args.email} entered {automation}",
    )


def export(args: argparse.Namespace) -> None:
    from postroom.automations import services

    for chunk in services.positions_csv(services.get(args.id)):
        sys.stdout.write(chunk)
