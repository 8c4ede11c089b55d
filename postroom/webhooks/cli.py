"""`postroom webhook add|list|edit|remove|test|log|rotate-secret`: outgoing webhooks."""

import argparse
import datetime

from postroom.cli import CLI, COUNT, add_json_flag, emit
from postroom.errors import InvalidInput


def register(cli: CLI) -> None:
    events_help = "an event to send (repeat); `postroom webhook events` lists them"
    p = cli.command(
        "add", "add an endpoint (its signing secret is shown once)", add, group="webhook"
    )
    p.add_argument("name")
    p.add_argument("--url", required=True)
    p.add_argument(
        "--event", action="append", default=[], dest="events", metavar="EVENT", help=events_help
    )
    add_json_flag(p)
    p = cli.command("list", "list endpoints (never their secrets)", list_endpoints, group="webhook")
    add_json_flag(p)
    p = cli.command("events", "the events an endpoint can choose", events, group="webhook")
    add_json_flag(p)
    p = cli.command("edit", "change an endpoint", edit, group="webhook")
    p.add_argument("name", help="its name or id")
    p.add_argument("--rename", metavar="NEW_NAME")
    p.add_argument("--url")
    p.add_argument(
        "--event", action="append", dest="events", metavar="EVENT", help="replaces the events"
    )
    state = p.add_mutually_exclusive_group()
    state.add_argument("--enable", action="store_true", dest="active", default=None)
    state.add_argument("--disable", action="store_false", dest="active")
    add_json_flag(p)
    p = cli.command("remove", "remove an endpoint and its log", remove, group="webhook")
    p.add_argument("name")
    p = cli.command("test", "POST a test event now and show the answer", test, group="webhook")
    p.add_argument("name")
    add_json_flag(p)
    p = cli.command("log", "an endpoint's latest deliveries", log, group="webhook")
    p.add_argument("name")
    p.add_argument("--limit", type=COUNT, default=20)
    add_json_flag(p)
    p = cli.command(
        "rotate-secret", "sign with a new secret from now on (shown once)", rotate, group="webhook"
    )
    p.add_argument("name")
    add_json_flag(p)


def add(args: argparse.Namespace) -> None:
    from postroom.webhooks import services

    endpoint, secret = services.create_endpoint(args.name, args.url, args.events)
    data = {**services.endpoint_json(endpoint), "secret": secret}
    emit(
        args,
        data,
        f"endpoint {endpoint.name!r} added: {', '.join(endpoint.events)}\n"
        f"signing secret (shown once: store it now): {secret}",
    )


def list_endpoints(args: argparse.Namespace) -> None:
    from postroom.webhooks import services
    from postroom.webhooks.models import Endpoint

    rows = [services.endpoint_json(e) for e in Endpoint.objects.all()]
    emit(
        args,
        rows,
        lambda: (
            "\n".join(
                f"{r['id']:>4}  {r['name']}  {r['url']}  {'' if r['active'] else '(disabled) '}"
                f"{', '.join(r['events'])}"
                for r in rows
            )
            or "no webhook endpoints: postroom webhook add NAME --url URL --event EVENT"
        ),
    )


def events(args: argparse.Namespace) -> None:
    from postroom.webhooks.events import EVENTS

    emit(args, EVENTS, lambda: "\n".join(f"{k:24} {v}" for k, v in EVENTS.items()))


def edit(args: argparse.Namespace) -> None:
    from postroom.webhooks import services

    endpoint = services.get_endpoint(args.name)
    changes = {
        key: value
        for key, value in (
            ("name", args.rename),
            ("url", args.url),
            ("events", args.events),
            ("active", args.active),
        )
        if value is not None
    }
    if not changes:
        raise InvalidInput("nothing to change: give at least one setting (see --help)")
    endpoint = services.update_endpoint(endpoint, **changes)
    emit(args, services.endpoint_json(endpoint), f"endpoint {endpoint.name!r} saved")


def remove(args: argparse.Namespace) -> None:
    from postroom.webhooks import services

    endpoint = services.get_endpoint(args.name)
    services.delete_endpoint(endpoint)
    print(f"endpoint {endpoint.name!r} removed")


def test(args: argparse.Namespace) -> int:
    from postroom.webhooks import services

    delivery = services.send_test(services.get_endpoint(args.name))
    data = services.delivery_json(delivery)
    ok = delivery.state == "delivered"
    emit(
        args,
        data,
        f"delivered: HTTP {delivery.last_status}"
        if ok
        else f"failed: {delivery.last_error or f'HTTP {delivery.last_status}'}",
    )
    return 0 if ok else 1


def _when(iso: str | None) -> str:
    if not iso:
        return ""
    return datetime.datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M:%S")


def log(args: argparse.Namespace) -> None:
    from postroom.webhooks import services

    rows = [
        services.delivery_json(d)
        for d in services.log(services.get_endpoint(args.name), args.limit)
    ]

    def text() -> str:
        lines = []
        for r in rows:
            answers = ", ".join(
                str(a["status"]) if a["status"] is not None else "no answer" for a in r["log"]
            )
            lines.append(
                f"{_when(r['created_at'])}  {r['event']:24} {r['state']:9} "
                f"{r['attempts']} attempt(s): {answers or '-'}"
            )
        return "\n".join(lines) or "nothing sent yet"

    emit(args, rows, text)


def rotate(args: argparse.Namespace) -> None:
    from postroom.webhooks import services

    endpoint = services.get_endpoint(args.name)
    secret = services.rotate_secret(endpoint)
    emit(args, {"id": endpoint.pk, "secret": secret}, f"new signing secret (shown once): {secret}")
