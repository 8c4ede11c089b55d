"""`postroom token create|list|revoke`: bearer tokens for the REST API."""

import argparse

from postroom.cli import CLI, add_json_flag, emit, record_id
from postroom.errors import NotFound


def register(cli: CLI) -> None:
    p = cli.command("create", "create an API token (shown once)", create, group="token")
    p.add_argument("--user", required=True, help="a staff user's username")
    p.add_argument("--name", required=True, help="what the token is for")
    p.add_argument(
        "--scope",
        action="append",
        default=[],
        dest="scopes",
        metavar="SCOPE",
        help="narrow it: read, subscribers, send (repeatable; none: all the user's role allows)",
    )
    p.add_argument(
        "--list",
        action="append",
        default=[],
        dest="lists",
        metavar="NAME",
        help="it sees and mails only these lists (repeatable)",
    )
    add_json_flag(p)
    p = cli.command("list", "list API tokens (never their secrets)", list_tokens, group="token")
    add_json_flag(p)
    p = cli.command("revoke", "revoke an API token", revoke, group="token")
    p.add_argument("id", type=record_id)


def create(args: argparse.Namespace) -> None:
    from django.contrib.auth import get_user_model

    from postroom.api import tokens

    user = get_user_model().objects.filter(username=args.user).first()
    if user is None:
        raise NotFound(f"no user named {args.user!r}")
    token, secret = tokens.create(user, args.name, args.scopes, args.lists)
    emit(
        args,
        {**tokens.describe(token), "token": secret},
        f"{secret}\n(shown once: store it now; it may do {tokens.summary(token)})",
    )


def list_tokens(args: argparse.Namespace) -> None:
    from postroom.api import tokens

    rows = [tokens.describe(t) for t in tokens.of()]
    emit(
        args,
        rows,
        lambda: (
            "\n".join(
                f"{r['id']:>4}  {r['hint']}…  {r['name']} ({r['user']})"
                + (f"  [{', '.join(r['scopes'] + [f'list {n}' for n in r['lists']])}]"
                   if r["scopes"] or r["lists"] else "")
                for r in rows
            )
            or "no tokens"
        ),
    )  # fmt: skip


def revoke(args: argparse.Namespace) -> None:
    from postroom.api import tokens

    tokens.revoke(args.id)
    print(f"revoked token {args.id}")
