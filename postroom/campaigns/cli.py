"""`postroom campaign create|archive|list|show|preview|test|schedule|unschedule|duplicate`.

Starting, pausing and the rest of a send are the delivery app's commands in the
same `campaign` group.
"""

import argparse
from pathlib import Path
from typing import Any

from postroom.cli import CLI, add_json_flag, emit
from postroom.errors import InvalidInput


def register(cli: CLI) -> None:
    p = cli.command("create", "create a draft campaign", create, group="campaign")
    p.add_argument("--name", required=True)
    p.add_argument("--subject", required=True, help="a template: {{ subscriber.first_name }} …")
    p.add_argument("--list", action="append", default=[], dest="lists", metavar="NAME")
    p.add_argument("--segment", metavar="NAME")
    p.add_argument("--body-file", required=True, type=Path, metavar="FILE")
    p.add_argument("--text-file", type=Path, metavar="FILE", help="hand-written plain-text part")
    p.add_argument("--format", choices=["markdown", "html", "plain"], default="markdown")
    p.add_argument(
        "--sender", action="append", default=[], metavar="NAME[:WEIGHT]",
        help="default: the local capture outbox; repeat for a pool of senders sharing the"
        " campaign by weight (--sender relay:2 --sender backup), the first one the primary",
    )  # fmt: skip
    p.add_argument(
        "--pool", metavar="NAME:WEIGHT,...",
        help="the senders and their weights at once: relay:2,backup:1 (after any --sender)",
    )  # fmt: skip
    p.add_argument("--from", dest="from_email", metavar="ADDRESS")
    p.add_argument("--from-name", default="")
    p.add_argument("--reply-to", default="")
    p.add_argument("--preheader", default="")
    p.add_argument("--layout", metavar="NAME", help="default: the Default layout")
    p.add_argument("--header", action="append", default=[], metavar="NAME=VALUE")
    p.add_argument("--priority", type=int, default=1)
    p.add_argument(
        "--archive", action="store_true",
        help="once sent, show it in the public archive of its public lists",
    )  # fmt: skip
    _threshold_arguments(p, required=False)
    window_arguments(p)
    add_json_flag(p)

    p = cli.command(
        "archive",
        "show a campaign in its public lists' archives, or take it out (any state)",
        archive,
        group="campaign",
    )
    p.add_argument("id")
    p.add_argument("--off", action="store_true", help="take it out of the archive")
    add_json_flag(p)

    p = cli.command(
        "error-threshold",
        "when a campaign pauses itself (any state, running included)",
        error_threshold,
        group="campaign",
    )
    p.add_argument("id")
    _threshold_arguments(p, required=True)
    add_json_flag(p)

    p = cli.command("list", "list campaigns", list_campaigns, group="campaign")
    add_json_flag(p)

    p = cli.command("show", "show a campaign and its audience", show, group="campaign")
    p.add_argument("id")
    add_json_flag(p)

    p = cli.command(
        "preview", "print a campaign as a subscriber gets it", preview, group="campaign"
    )
    p.add_argument("id")
    p.add_argument("--email", help="the subscriber to render for (default: a sample reader)")
    p.add_argument("--part", choices=["html", "text", "subject"], default="text")

    p = cli.command("test", "send a test to some addresses", test, group="campaign")
    p.add_argument("id")
    p.add_argument("--to", action="append", required=True, metavar="ADDRESS")
    p.add_argument(
        "--prefix", default=None, metavar="TEXT", help='before the subject (default "[Test] ")'
    )
    p.add_argument("--no-prefix", action="store_true", help="the subject exactly as sent")
    add_json_flag(p)

    p = cli.command("schedule", "start a campaign later", schedule, group="campaign")
    p.add_argument("id")
    p.add_argument("--at", required=True, metavar="ISO8601", help="e.g. 2030-05-01T09:00")
    p.add_argument("--tz", default="", metavar="ZONE", help="e.g. Europe/Berlin")
    add_json_flag(p)

    p = cli.command(
        "unschedule", "turn a scheduled campaign back into a draft", unschedule, group="campaign"
    )
    p.add_argument("id")

    p = cli.command("duplicate", "copy a campaign as a new draft", duplicate, group="campaign")
    p.add_argument("id")
    add_json_flag(p)


def _threshold_arguments(p: argparse.ArgumentParser, required: bool) -> None:
    p.add_argument(
        "--error-threshold", type=int, default=None if required else 20, required=required,
        metavar="PERCENT", help="pause when more than this share of recent recipients fail"
        " for good (default 20)",
    )  # fmt: skip
    p.add_argument(
        "--error-window", type=int, default=None if required else 200, required=required,
        metavar="N", help="how many recent recipients that share counts (default 200)",
    )  # fmt: skip


def window_arguments(p: argparse.ArgumentParser, local: bool = True) -> None:
    """The send window, on each reader's wall clock (their `timezone` attribute); also a
    sequence's send step's (`local=False`: hours only, a step waits for a local time)."""
    p.add_argument(
        "--window", metavar="HH:MM-HH:MM",
        help="send only between these hours in each reader's time zone (09:00-17:00)",
    )  # fmt: skip
    p.add_argument(
        "--window-days", metavar="DAYS", help="with --window: the weekdays (mon-fri, sat,sun)"
    )
    if local:
        _local_arguments(p)
    p.add_argument(
        "--window-tz", metavar="ZONE", default="",
        help="the zone of readers without one (default: the installation's TIME_ZONE)",
    )  # fmt: skip


def _local_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--local-time", metavar="HH:MM",
        help="send at this time in each reader's time zone (on --local-date, or the first"
        " after the start)",
    )  # fmt: skip
    p.add_argument("--local-date", metavar="YYYY-MM-DD", help="with --local-time: the day")


def window_fields(args: argparse.Namespace) -> dict[str, Any]:
    """The campaign fields of the window flags (`window_arguments`), checked."""
    from postroom.campaigns import windows

    local_time, local_date = getattr(args, "local_time", None), getattr(args, "local_date", None)
    if args.window_tz and not (args.window or local_time):
        raise InvalidInput("--window-tz goes with --window or --local-time")
    return windows.fields_from_text(
        args.window, args.window_days, local_time, local_date, args.window_tz
    )


def _pool(senders: list[str], pool: str | None) -> list:
    """[(Sender, weight)] from `--sender NAME[:WEIGHT] ...` and `--pool A:2,B:1`."""
    from postroom.campaigns import pools

    return pools.resolve(pools.parse([*senders, pool or ""]))


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput(f"{what} {path} does not exist") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{what} {path} is not UTF-8 text") from None
    except OSError as exc:
        raise InvalidInput(f"{what} {path} cannot be read: {exc.strerror}") from None


def _headers(pairs: list[str]) -> dict[str, str]:
    headers = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise InvalidInput(f"--header {pair!r}: write it as NAME=VALUE")
        headers[name.strip()] = value.strip()
    return headers


def create(args: argparse.Namespace) -> None:
    from postroom.campaigns import layouts, services

    if not args.lists and not args.segment:
        raise InvalidInput("give at least one --list or a --segment")
    window = window_fields(args)
    campaign = services.create_campaign(
        name=args.name,
        subject=args.subject,
        lists=services.lists_by_name(args.lists),
        segment=services.segment_by_name(args.segment),
        body=_read(args.body_file, "body file"),
        text_body=_read(args.text_file, "text file") if args.text_file else "",
        body_format=args.format,
        pool=_pool(args.sender, args.pool),
        from_email=args.from_email or "",
        from_name=args.from_name,
        reply_to=args.reply_to,
        preheader=args.preheader,
        layout=layouts.layout_by_name(args.layout),
        headers=_headers(args.header),
        priority=args.priority,
        in_archive=args.archive,
        error_threshold_percent=args.error_threshold,
        error_window=args.error_window,
        **window,
    )
    emit(args, {"id": campaign.pk}, f"created campaign {campaign.pk} ({campaign.name}), a draft")


def as_json(campaign: Any, audience: int | None = None) -> dict[str, Any]:
    from postroom.campaigns import pools

    data = {
        "id": campaign.pk,
        "name": campaign.name,
        "subject": campaign.subject,
        "status": campaign.status,
        "status_reason": campaign.status_reason,
        "from": campaign.from_email,
        "from_name": campaign.from_name,
        "reply_to": campaign.reply_to,
        "format": campaign.body_format,
        "lists": [ml.name for ml in campaign.lists.all()],
        "segment": campaign.segment.name if campaign.segment_id else None,
        "sender": campaign.sender.name if campaign.sender_id else None,
        "pool": [{"sender": s.name, "weight": w} for s, w in pools.members(campaign)],
        "layout": campaign.layout.name if campaign.layout_id else None,
        "in_archive": campaign.in_archive,
        "priority": campaign.priority,
        "error_threshold": {
            "percent": campaign.error_threshold_percent,
            "window": campaign.error_window,
        },
        "window": campaign.send_window().as_dict(),
        "send_at": campaign.send_at.isoformat() if campaign.send_at else None,
        "send_at_timezone": campaign.send_at_timezone or None,
        "created_at": campaign.created_at.isoformat(),
        "started_at": campaign.started_at.isoformat() if campaign.started_at else None,
        "finished_at": campaign.finished_at.isoformat() if campaign.finished_at else None,
    }
    if audience is not None:
        data["audience"] = audience
    return data


def error_threshold(args: argparse.Namespace) -> None:
    from postroom.campaigns import services
    from postroom.delivery.autopause import thresholds_text

    campaign = services.set_error_threshold(
        services.get_campaign(args.id), args.error_threshold, args.error_window
    )
    emit(
        args,
        {"id": campaign.pk, **as_json(campaign)["error_threshold"]},
        f"campaign {campaign.pk} pauses itself when"
        f" {thresholds_text(campaign.error_threshold_percent, campaign.error_window)}"
        " fail permanently",
    )


def archive(args: argparse.Namespace) -> None:
    from postroom.campaigns import services

    campaign = services.set_in_archive(services.get_campaign(args.id), not args.off)
    where = "in" if campaign.in_archive else "out of"
    emit(
        args,
        {"id": campaign.pk, "in_archive": campaign.in_archive},
        f"campaign {campaign.pk} is {where} the public archive"
        + ("" if campaign.status == "finished" or args.off else " (shown once it is sent)"),
    )


def list_campaigns(args: argparse.Namespace) -> None:
    from postroom.campaigns.models import Campaign

    campaigns = list(
        Campaign.objects.filter(kind=Campaign.Kind.NEWSLETTER)
        .select_related("segment", "sender", "layout")
        .prefetch_related("lists")
    )
    rows = [as_json(c) for c in campaigns]

    def text() -> str:
        if not rows:
            return "no campaigns yet"
        return "\n".join(f"{r['id']:>5}  {r['status']:<10} {r['name']}" for r in rows)

    emit(args, rows, text)


def show(args: argparse.Namespace) -> None:
    from postroom.campaigns import services

    campaign = services.get_campaign(args.id)
    data = as_json(campaign, audience=services.audience_count(campaign))

    def text() -> str:
        width = max(len(k) for k in data)
        shown = {k: ", ".join(v) if isinstance(v, list) else v for k, v in data.items()}
        if data["window"]:
            shown["window"] = data["window"]["description"]
        return "\n".join(f"{k:<{width}}  {'' if v is None else v}" for k, v in shown.items())

    emit(args, data, text)


def preview(args: argparse.Namespace) -> None:
    from postroom.campaigns import services

    campaign = services.get_campaign(args.id)
    recipient = services.recipient_by_email(args.email) if args.email else None
    subject, html, text = services.preview(campaign, recipient)
    print({"subject": subject, "html": html, "text": text}[args.part], end="")


def test(args: argparse.Namespace) -> int:
    from postroom.campaigns import services
    from postroom.delivery import control

    campaign = services.get_campaign(args.id)
    prefix = "" if args.no_prefix else services.TEST_SUBJECT_PREFIX
    if args.prefix is not None and not args.no_prefix:
        prefix = args.prefix
    outcomes = control.send_test(campaign, args.to, prefix)
    rows = [
        {
            "to": o.rcpt_to,
            "outcome": "queued" if o.result is None else o.result.outcome,
            "reply": "" if o.result is None else (o.result.reply or o.result.message),
            "leaves_at": o.leaves_at,
            "message": o.describe(),
        }
        for o in outcomes
    ]
    emit(args, rows, lambda: "\n".join(o.describe() for o in outcomes))
    return 0 if all(o.ok for o in outcomes) else 1


def schedule(args: argparse.Namespace) -> None:
    from postroom.campaigns import services

    campaign = services.get_campaign(args.id)
    when, zone = services.parse_send_at(args.at, args.tz)
    campaign = services.schedule(campaign, when, zone)
    send_at = campaign.send_at or when  # schedule() has just set it
    local = send_at.astimezone(when.tzinfo)
    emit(
        args,
        {"id": campaign.pk, "status": campaign.status, "send_at": send_at.isoformat()},
        f"campaign {campaign.pk} will start at {local.isoformat()} ({zone})",
    )


def unschedule(args: argparse.Namespace) -> None:
    from postroom.campaigns import services

    campaign = services.unschedule(services.get_campaign(args.id))
    print(f"campaign {campaign.pk} is a draft again")


def duplicate(args: argparse.Namespace) -> None:
    from postroom.campaigns import services

    copy = services.duplicate_campaign(services.get_campaign(args.id))
    emit(args, {"id": copy.pk}, f"created campaign {copy.pk} ({copy.name}), a draft")
