"""`postroom lists …`, `postroom subscribers …` and `postroom segments …`.

Thin wrappers over audience.services: argument parsing and output only.
"""

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from postroom.cli import CLI, COUNT, add_json_flag, emit
from postroom.errors import InvalidInput

LANGUAGE_HELP = (
    "language of its pages and confirmations (de, en, es, fr, zh-hans); "
    "subscribers with their own keep theirs"
)


def register(cli: CLI) -> None:
    p = cli.command("add", "create a mailing list", add_list, group="lists")
    p.add_argument("name")
    p.add_argument("--optin", choices=["single", "double"], default="single")
    p.add_argument("--description", default="")
    p.add_argument("--public", action="store_true", help="shown on public subscription forms")
    p.add_argument("--language", default="", help=LANGUAGE_HELP)
    _signup_flags(p)
    add_json_flag(p)
    p = cli.command("edit", "change a list's settings", edit_list, group="lists")
    p.add_argument("name")
    p.add_argument("--rename", metavar="NEW_NAME")
    p.add_argument("--optin", choices=["single", "double"])
    p.add_argument("--description")
    visibility = p.add_mutually_exclusive_group()
    visibility.add_argument("--public", action="store_true", default=None)
    visibility.add_argument("--private", action="store_false", dest="public")
    p.add_argument("--language", help=LANGUAGE_HELP + '; "" for none')
    _signup_flags(p)
    p.add_argument(
        "--no-origins", action="store_true", help="allow no other website (before --allow-origin)"
    )
    p.add_argument("--no-captcha", action="store_false", dest="captcha")
    add_json_flag(p)
    p = cli.command("list", "show mailing lists with subscriber counts", list_lists, group="lists")
    add_json_flag(p)
    p = cli.command(
        "snippet", "print the HTML sign-up form to paste into a website", snippet, group="lists"
    )
    p.add_argument("name")

    p = cli.command("add", "add a subscriber (or add lists to one)", add, group="subscribers")
    p.add_argument("email")
    p.add_argument("--name", default="")
    p.add_argument("--list", action="append", default=[], dest="lists", metavar="NAME")
    p.add_argument(
        "--attr",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an attribute; VALUE is read as JSON when it parses (30, true), else as text",
    )
    p.add_argument("--tag", action="append", default=[], dest="tags", metavar="TAG")
    p.add_argument(
        "--preconfirmed", action="store_true", help="consent already confirmed (double opt-in)"
    )
    add_json_flag(p)

    p = cli.command("get", "show one subscriber", get, group="subscribers")
    p.add_argument("email")
    add_json_flag(p)

    p = cli.command("list", "list subscribers", list_subscribers, group="subscribers")
    p.add_argument("--list", dest="list_name", metavar="NAME", help="subscribed to this list")
    p.add_argument("--segment", metavar="NAME")
    p.add_argument("--status", choices=["active", "blocklisted"])
    p.add_argument("--limit", type=COUNT, default=0, help="at most this many (default: all)")
    add_json_flag(p)

    p = cli.command("delete", "erase a subscriber (GDPR)", delete, group="subscribers")
    p.add_argument("email")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    p = cli.command("blocklist", "never mail an address again", blocklist, group="subscribers")
    p.add_argument("email")

    p = cli.command("unsubscribe", "unsubscribe from lists", unsubscribe, group="subscribers")
    p.add_argument("email")
    p.add_argument("--list", action="append", dest="lists", metavar="NAME", help="default: all")

    p = cli.command("add", "save a segment", add_segment, group="segments")
    p.add_argument("name")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--definition", metavar="JSON")
    source.add_argument("--file", type=Path, metavar="FILE")
    p.add_argument("--description", default="")
    add_json_flag(p)
    p = cli.command("list", "show saved segments", list_segments, group="segments")
    add_json_flag(p)
    p = cli.command("count", "count the subscribers a segment matches", count, group="segments")
    p.add_argument("name")
    add_json_flag(p)


# --- lists ------------------------------------------------------------------------------


def list_json(mailing_list, counts: dict[str, int] | None = None) -> dict[str, Any]:
    data = {
        "id": mailing_list.pk,
        "name": mailing_list.name,
        "description": mailing_list.description,
        "optin": mailing_list.optin,
        "visibility": mailing_list.visibility,
        "created_at": mailing_list.created_at.isoformat(),
        "uuid": str(mailing_list.uuid),
        "public": mailing_list.is_public,
        "allowed_origins": mailing_list.allowed_origins,
        "captcha": mailing_list.captcha,
        "form_fields": mailing_list.form_fields,
        "language": mailing_list.language,
    }
    if counts is not None:
        data["counts"] = counts
    return data


def _signup_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        dest="origins",
        metavar="ORIGIN",
        help="a website (https://example.org) whose pages may post sign-ups from a browser",
    )
    p.add_argument(
        "--captcha",
        action="store_true",
        default=None,
        help="sign-ups must solve a proof-of-work challenge (no third party)",
    )
    fields = p.add_mutually_exclusive_group()
    fields.add_argument(
        "--fields",
        metavar="JSON",
        help='custom form fields: [{"name": "plan", "label": "Plan", "type": "choice", '
        '"required": true, "choices": ["free", "pro"]}]',
    )
    fields.add_argument("--fields-file", type=Path, metavar="FILE", help="the same, from a file")


def _form_fields(args: argparse.Namespace) -> list | None:
    if args.fields_file is not None:
        try:
            text = args.fields_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidInput(f"cannot read {args.fields_file}: {exc.strerror}") from None
    elif args.fields is not None:
        text = args.fields
    else:
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InvalidInput(f"the form fields are not valid JSON: {exc}") from None


def add_list(args: argparse.Namespace) -> None:
    from postroom.audience import services

    ml = services.create_list(
        args.name,
        args.optin,
        args.description,
        args.public,
        allowed_origins=args.origins,
        captcha=bool(args.captcha),
        form_fields=_form_fields(args),
        language=args.language,
    )
    emit(args, list_json(ml), f"list {ml.name!r} created ({ml.optin} opt-in, {ml.visibility})")


def edit_list(args: argparse.Namespace) -> None:
    from postroom.audience import services

    ml = services.get_list(args.name)
    changes: dict[str, Any] = {}
    for key, value in (
        ("name", args.rename),
        ("optin", args.optin),
        ("description", args.description),
        ("public", args.public),
        ("captcha", args.captcha),
        ("form_fields", _form_fields(args)),
        ("language", args.language),
    ):
        if value is not None:
            changes[key] = value
    if args.no_origins or args.origins:
        kept = [] if args.no_origins else list(ml.allowed_origins)
        changes["allowed_origins"] = kept + args.origins
    if not changes:
        raise InvalidInput("nothing to change: give at least one setting (see --help)")
    ml = services.update_list(ml, **changes)
    emit(args, list_json(ml), f"list {ml.name!r} saved")


def snippet(args: argparse.Namespace) -> None:
    from postroom.audience import services
    from postroom.tracking.snippet import signup_snippet

    print(signup_snippet(services.get_list(args.name)))


def list_lists(args: argparse.Namespace) -> None:
    from postroom.audience import services
    from postroom.audience.models import MailingList, Subscription

    counts = services.list_counts()
    empty = dict.fromkeys(Subscription.Status.values, 0)
    rows = [list_json(ml, counts.get(ml.pk, empty)) for ml in MailingList.objects.all()]

    def text() -> str:
        if not rows:
            return "no lists yet: postroom lists add NAME"
        lines = [
            f"{'NAME':30} {'OPT-IN':7} {'CONFIRMED':>10} {'UNCONFIRMED':>12} {'UNSUBSCRIBED':>13}"
            "  UUID"
        ]
        for r in rows:
            c = r["counts"]
            lines.append(
                f"{r['name'][:30]:30} {r['optin']:7} {c['confirmed']:>10} "
                f"{c['unconfirmed']:>12} {c['unsubscribed']:>13}  {r['uuid']}"
            )
        return "\n".join(lines)

    emit(args, rows, text)


# --- subscribers ------------------------------------------------------------------------


def subscriber_json(subscriber, detail: bool = False) -> dict[str, Any]:
    """The CLI's (and the API's) view of a subscriber; "lists" holds current subscriptions."""
    subscriptions = list(subscriber.subscriptions.all())
    data = {
        "id": subscriber.pk,
        "email": subscriber.email,
        "name": subscriber.name,
        "status": subscriber.status,
        "attributes": subscriber.attributes,
        "lists": sorted(s.mailing_list.name for s in subscriptions if s.status != "unsubscribed"),
        "tags": sorted(t.name for t in subscriber.tags.all()),
        "created_at": subscriber.created_at.isoformat(),
    }
    if detail:
        data["updated_at"] = subscriber.updated_at.isoformat()
        data["subscriptions"] = [
            {
                "list": s.mailing_list.name,
                "status": s.status,
                "consent_source": s.consent_source,
                "consent_at": s.consent_at.isoformat(),
                "consent_ip": s.consent_ip,
                "confirmed_at": s.confirmed_at.isoformat() if s.confirmed_at else None,
                "unsubscribed_at": s.unsubscribed_at.isoformat() if s.unsubscribed_at else None,
                "unsubscribe_source": s.unsubscribe_source,
            }
            for s in sorted(subscriptions, key=lambda s: s.mailing_list.name)
        ]
    return data


def _attributes(pairs: list[str]) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"--attr {pair!r}: write KEY=VALUE")
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        attributes[key.strip()] = value
    return attributes


def add(args: argparse.Namespace) -> None:
    from django.db import transaction

    from postroom.audience import services

    attributes = _attributes(args.attr)
    with transaction.atomic():
        subscriber, created = services.upsert_subscriber(
            args.email,
            args.name,
            args.lists,
            source="admin",
            attributes=attributes,
            preconfirmed=args.preconfirmed,
        )
        if args.tags:
            current = list(subscriber.tags.values_list("name", flat=True))
            services.set_tags(subscriber, [*current, *args.tags])
    data = subscriber_json(_loaded(subscriber.pk))
    emit(args, data, f"{'added' if created else 'updated'} {subscriber.email}")


def _loaded(pk: int):
    from postroom.audience.models import Subscriber

    return _with_relations(Subscriber.objects.filter(pk=pk)).get()


def _with_relations(qs):
    return qs.prefetch_related("subscriptions__mailing_list", "tags")


def get(args: argparse.Namespace) -> None:
    from postroom.audience import services

    data = subscriber_json(_loaded(services.get_subscriber(args.email).pk), detail=True)

    def text() -> str:
        lines = [
            f"email:      {data['email']}",
            f"name:       {data['name']}",
            f"status:     {data['status']}",
            f"created:    {data['created_at']}",
            f"tags:       {', '.join(data['tags']) or '-'}",
            f"attributes: {json.dumps(data['attributes'], ensure_ascii=False)}",
        ]
        for s in data["subscriptions"]:
            lines.append(
                f"list {s['list']}: {s['status']} (consent {s['consent_source']} "
                f"{s['consent_at']}{' from ' + s['consent_ip'] if s['consent_ip'] else ''})"
            )
        return "\n".join(lines)

    emit(args, data, text)


def list_subscribers(args: argparse.Namespace) -> None:
    from django.db.models import Exists, OuterRef

    from postroom.audience import segments, services
    from postroom.audience.models import Subscriber, Subscription

    qs = Subscriber.objects.all()
    if args.list_name:
        ml = services.get_list(args.list_name)
        qs = qs.filter(
            Exists(
                Subscription.objects.filter(subscriber=OuterRef("pk"), mailing_list=ml).exclude(
                    status=Subscription.Status.UNSUBSCRIBED
                )
            )
        )
    if args.segment:
        qs = qs.filter(segments.compile_q(services.get_segment(args.segment).definition))
    if args.status:
        qs = qs.filter(status=args.status)
    qs = _with_relations(qs.order_by("pk"))
    if args.limit:
        qs = qs[: args.limit]
    rows = (subscriber_json(s) for s in qs.iterator(chunk_size=2000))
    if args.json:
        _stream_json(rows)
    else:
        for row in rows:
            print(f"{row['email']}\t{row['name']}\t{row['status']}\t{','.join(row['lists'])}")


def _stream_json(rows: Iterator[dict]) -> None:
    """A JSON array written row by row, so a million subscribers never sit in memory."""
    out = sys.stdout
    out.write("[")
    empty = True
    for row in rows:
        out.write("\n  " if empty else ",\n  ")
        out.write(json.dumps(row, ensure_ascii=False, default=str))
        empty = False
    out.write("]\n" if empty else "\n]\n")


def delete(args: argparse.Namespace) -> None:
    from postroom.audience import services

    subscriber = services.get_subscriber(args.email)
    if not args.yes:
        if not sys.stdin.isatty():
            raise InvalidInput(f"erasing {subscriber.email} cannot be undone: add --yes")
        answer = input(f"Erase {subscriber.email} and all their data? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            raise InvalidInput("nothing erased")
    services.erase(subscriber)
    print(f"erased {subscriber.email}")


def blocklist(args: argparse.Namespace) -> None:
    from postroom.audience import services
    from postroom.audience.models import Subscriber

    subscriber = services.get_subscriber(args.email)
    services.blocklist(Subscriber.objects.filter(pk=subscriber.pk), source="cli")
    print(f"blocklisted {subscriber.email}")


def unsubscribe(args: argparse.Namespace) -> None:
    from postroom.audience import services

    subscriber = services.get_subscriber(args.email)
    lists = services.resolve_lists(args.lists) if args.lists else None
    changed = services.unsubscribe(subscriber, lists, source="cli")
    where = ", ".join(ml.name for ml in lists) if lists else "everything"
    print(f"unsubscribed {subscriber.email} from {where} ({changed} subscription(s) changed)")


# --- segments ---------------------------------------------------------------------------


def segment_json(segment) -> dict[str, Any]:
    from postroom.audience import segments

    return {
        "id": segment.pk,
        "name": segment.name,
        "description": segment.description,
        "definition": segment.definition,
        "summary": segments.describe(segment.definition),
    }


def add_segment(args: argparse.Namespace) -> None:
    from postroom.audience import services

    if args.file:
        try:
            raw = args.file.read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidInput(f"cannot read {args.file}: {exc.strerror}") from None
    else:
        raw = args.definition
    try:
        definition = json.loads(raw)
    except ValueError as exc:
        raise InvalidInput(f"the definition is not valid JSON: {exc}") from None
    segment = services.save_segment(args.name, definition, args.description)
    emit(args, segment_json(segment), f"segment {segment.name!r} saved")


def list_segments(args: argparse.Namespace) -> None:
    from postroom.audience.models import Segment

    rows = [segment_json(s) for s in Segment.objects.all()]
    text = "\n".join(f"{r['name']}: {r['summary']}" for r in rows) or "no segments yet"
    emit(args, rows, text)


def count(args: argparse.Namespace) -> None:
    from postroom.audience import segments, services

    segment = services.get_segment(args.name)
    n = segments.subscribers_matching(segment.definition).count()
    emit(args, {"name": segment.name, "count": n}, str(n))
