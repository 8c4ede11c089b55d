"""`postroom feed add|list|check|delete`: RSS/Atom feeds sent as digest campaigns."""

import argparse
from pathlib import Path

from postroom.cli import CLI, add_json_flag, duration_minutes, emit


def register(cli: CLI) -> None:
    p = cli.command("add", "add a feed whose new items go out as digests", add, group="feed")
    p.add_argument("name")
    p.add_argument("--url", required=True, help="an RSS or Atom feed, http:// or https://")
    p.add_argument("--list", action="append", default=[], dest="lists", metavar="NAME")
    p.add_argument("--segment", metavar="NAME")
    p.add_argument(
        "--every", type=duration_minutes, default=60, metavar="DURATION",
        help="how often it is checked: 30m, 4h, 1d (default 60m)",
    )  # fmt: skip
    p.add_argument("--min-items", type=int, default=1, help="send once this many wait (1)")
    p.add_argument("--subject", help="a template: {{ feed }}, {{ items|length }}")
    p.add_argument("--template-file", type=Path, metavar="FILE", help="the digest (Jinja2)")
    p.add_argument("--sender", metavar="NAME", help="default: the local capture outbox")
    p.add_argument("--from", dest="from_email", default="", metavar="ADDRESS")
    p.add_argument("--from-name", default="")
    p.add_argument("--inactive", action="store_true", help="added, but not checked yet")
    add_json_flag(p)

    p = cli.command("list", "list feeds with their last check and items", list_feeds, group="feed")
    add_json_flag(p)

    p = cli.command(
        "check", "fetch a feed now; send a digest if enough new items wait", check, group="feed"
    )
    p.add_argument("feed", help="its name or id")
    add_json_flag(p)

    p = cli.command(
        "delete", "delete a feed (digests sent stay as campaigns)", delete, group="feed"
    )
    p.add_argument("feed", help="its name or id")


def add(args: argparse.Namespace) -> None:
    from postroom.campaigns.cli import _read
    from postroom.campaigns.services import lists_by_name, segment_by_name
    from postroom.delivery.senders import get_sender
    from postroom.feeds import services

    fields = {}
    if args.subject is not None:
        fields["subject"] = args.subject
    if args.template_file is not None:
        fields["template"] = _read(args.template_file, "template file")
    feed = services.create_feed(
        name=args.name,
        url=args.url,
        lists=lists_by_name(args.lists),
        segment=segment_by_name(args.segment),
        sender=get_sender(args.sender) if args.sender else None,
        from_email=args.from_email,
        from_name=args.from_name,
        interval_minutes=args.every,
        minimum_items=args.min_items,
        active=not args.inactive,
        **fields,
    )
    emit(args, services.as_json(feed), f"added feed {feed.pk} ({feed.name})")


def list_feeds(args: argparse.Namespace) -> None:
    from postroom.feeds import services

    rows = [services.as_json(f) for f in services.all_feeds()]

    def text() -> str:
        if not rows:
            return "no feeds"
        return "\n".join(
            f"{r['id']}  {r['name']}  every {r['interval_minutes']} min"
            f"  last check {r['last_checked'] or 'never'}  seen {r['items_seen']}"
            f"  waiting {r['items_waiting']}"
            + (f"  error: {r['last_error']}" if r["last_error"] else "")
            for r in rows
        )

    emit(args, rows, text)


def check(args: argparse.Namespace) -> int:
    """A feed that cannot be read is one line and exit 1; the error is kept on the feed."""
    from postroom.feeds import services

    feed = services.get_feed(args.feed)
    before = services.as_json(feed)["items_seen"]
    campaign = services.check(feed)
    data = services.as_json(feed)
    data["new_items"] = data["items_seen"] - before
    data["campaign"] = campaign.pk if campaign else None
    sent = f", sent as campaign {campaign.pk}" if campaign else ""
    emit(args, data, f"checked {feed.name}: {data['new_items']} new item(s){sent}, "
                     f"{data['items_waiting']} waiting")  # fmt: skip
    return 0


def delete(args: argparse.Namespace) -> None:
    from postroom.feeds import services

    feed = services.get_feed(args.feed)
    services.delete_feed(feed)
    print(f"deleted feed {feed.name}")
