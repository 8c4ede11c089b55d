"""`postroom campaign abtest create|set|variant|start|status|decide|delete ID …`.

The same services as the UI and the API; every command with --json prints the
test as `GET /api/campaigns/{id}/abtest` does.
"""

import argparse
from pathlib import Path
from typing import Any

from postroom.cli import CLI, add_json_flag, duration_minutes, emit, record_id
from postroom.errors import InvalidInput


def register(cli: CLI) -> None:
    top = cli.command("abtest", "A/B tests of a draft campaign", _help, group="campaign")
    sub = top.add_subparsers(dest="abtest_command", metavar="ACTION")
    top.set_defaults(handler=lambda args, p=top: p.print_help() or 2)

    def command(name: str, help: str, handler: Any) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.set_defaults(handler=handler)
        p.add_argument("id", type=record_id, help="the campaign (variant A, or any variant)")
        add_json_flag(p)
        return p

    p = command("create", "make a draft campaign variant A of a new A/B test", create)
    p.add_argument("--variants", type=int, default=2, help="2 to 4 (default 2)")
    _settings_arguments(p)
    p = command("set", "change a test that has not started", set_settings)
    _settings_arguments(p)
    p = command("variant", "change a variant's subject, from name or content", variant)
    p.add_argument("label", help="A, B, C or D; a new letter adds a variant")
    p.add_argument("--subject")
    p.add_argument("--from-name")
    p.add_argument("--body-file", type=Path, metavar="FILE")
    p.add_argument("--remove", action="store_true", help="drop the variant (never A)")
    command("start", "draw the test group and start every variant", start)
    command("status", "the test and each variant's results", status)
    p = command("decide", "pick the winner by hand: it goes to the rest at once", decide)
    p.add_argument("--winner", required=True, metavar="LABEL")
    command("delete", "not a test any more (the other variants' campaigns go)", delete)


def _help(args: argparse.Namespace) -> int:
    return 2


def _settings_arguments(p: argparse.ArgumentParser) -> None:
    size = p.add_mutually_exclusive_group()
    size.add_argument("--percent", type=int, help="the test group, a percentage of the audience")
    size.add_argument("--count", type=int, help="the test group, a number of people")
    p.add_argument("--metric", choices=["opens", "clicks", "manual"])
    p.add_argument(
        "--window", type=duration_minutes, metavar="DURATION", help="e.g. 4h (default 240m)"
    )
    p.add_argument(
        "--share", action="append", default=[], metavar="LABEL=N", help="e.g. --share B=2"
    )
    p.add_argument(
        "--send-at", action="append", default=[], metavar="LABEL=ISO8601",
        help="a send-time test: --send-at B=2030-05-01T09:00",
    )  # fmt: skip
    p.add_argument("--tz", default="", metavar="ZONE", help="for --send-at, e.g. Europe/Berlin")


def _pairs(values: list[str], flag: str) -> dict[str, str]:
    found = {}
    for value in values:
        label, sep, rest = value.partition("=")
        if not sep or not label.strip():
            raise InvalidInput(f"{flag} {value!r}: write it as LABEL=VALUE")
        found[label.strip().upper()] = rest.strip()
    return found


def _settings(args: argparse.Namespace) -> dict[str, Any]:

    settings: dict[str, Any] = {}
    if args.percent is not None:
        settings.update(test_percent=args.percent, test_count=None)
    if args.count is not None:
        settings["test_count"] = args.count
    if args.metric:
        settings["metric"] = args.metric
    if args.window is not None:
        settings["window_minutes"] = args.window
    return settings


def _update(test: Any, args: argparse.Namespace, settings: dict[str, Any]) -> None:
    from postroom.abtests import services
    from postroom.campaigns.services import parse_send_at

    shares = {}
    for label, value in _pairs(args.share, "--share").items():
        if not value.isdigit():
            raise InvalidInput(f"--share {label}={value}: a share is a whole number")
        shares[label] = int(value)
    send_times = {
        label: parse_send_at(value, args.tz)[0] if value else None
        for label, value in _pairs(args.send_at, "--send-at").items()
    }
    if settings or shares or send_times:
        services.update_test(test, shares=shares, send_times=send_times, **settings)


def _show(args: argparse.Namespace, test: Any, done: str) -> None:
    from postroom.abtests import services

    data = services.as_json(test)

    def text() -> str:
        lines = [f"{done}: A/B test of campaign {data['campaign']}, {data['status']}"]
        if data["waiting_for"]:
            lines.append(f"  waiting: {data['waiting_for']}")
        for v in data["variants"]:
            mark = "  (winner)" if v["winner"] else ""
            lines.append(
                f"  {v['label']}  campaign {v['campaign']}  share {v['share']}  sent {v['sent']}"
                f"  human opens {v['opens']} ({v['open_rate']:.1%})"
                f"  clicks {v['clicks']} ({v['click_rate']:.1%})  {v['subject']}{mark}"
            )
            if v["confidence_summary"]:
                lines.append(f"     {v['confidence_summary']}")
        if data["rest"]:
            lines.append(f"  the rest: campaign {data['rest']}")
        return "\n".join(lines)

    emit(args, data, text)


def create(args: argparse.Namespace) -> None:
    from django.db import transaction

    from postroom.abtests import services
    from postroom.campaigns.services import get_campaign

    with transaction.atomic():  # settings refused: no test is left behind
        test = services.make_test(get_campaign(args.id), count=args.variants, **_settings(args))
        _update(test, args, {})
    _show(args, test, "created")


def set_settings(args: argparse.Namespace) -> None:
    from postroom.abtests import services

    test = services.get_test(args.id)
    _update(test, args, _settings(args))
    _show(args, test, "changed")


def variant(args: argparse.Namespace) -> None:
    from django.db import transaction

    from postroom.abtests import services
    from postroom.campaigns import services as campaigns
    from postroom.campaigns.cli import _read

    test = services.get_test(args.id)
    label = args.label.upper()
    if args.remove:
        services.remove_variant(test, label)
        return _show(args, test, f"removed variant {label}")
    with transaction.atomic():
        found = {v.label: v for v in services.variants(test)}
        chosen = found.get(label)
        if chosen is None:
            chosen = services.add_variant(test)
            if chosen.label != label:
                raise InvalidInput(f"the next variant is {chosen.label}, not {label}")
        fields: dict[str, Any] = {}
        if args.subject is not None:
            fields["subject"] = args.subject
        if args.from_name is not None:
            fields["from_name"] = args.from_name
        if args.body_file is not None:
            fields["body"] = _read(args.body_file, "body file")
        if fields:
            services.ensure_draft(test)
            campaigns.update_campaign(chosen.campaign, **fields)
    _show(args, test, f"variant {label}")


def start(args: argparse.Namespace) -> None:
    from postroom.abtests import services

    test = services.get_test(args.id)
    services.start_test(test)
    _show(args, test, "started")


def status(args: argparse.Namespace) -> None:
    from postroom.abtests import services

    _show(args, services.get_test(args.id), "status")


def decide(args: argparse.Namespace) -> None:
    from postroom.abtests import services

    test = services.get_test(args.id)
    services.decide(test, args.winner, by_hand=True)
    _show(args, test, "decided")


def delete(args: argparse.Namespace) -> None:
    from postroom.abtests import services

    test = services.get_test(args.id)
    campaign = test.campaign_id
    services.delete_test(test)
    emit(args, {"campaign": campaign}, f"campaign {campaign} is not an A/B test any more")
