"""`postroom token create|list|revoke`: bearer tokens for the REST API."""

import argparse

from postroom.cli import CLI, add_json_flag, emit, record_id
from postroom.errors import InvalidInput, NotFound


def register(cli: CLI) -> None:
    p = cli.command("create", "create an API token (shown once)", create, group="token")
    p.add_argument("--user", required=True, help="a staff user's username")
    p.add_argument("--name", required=True, help="what the token is for")
    add_json_flag(p)
    p = cli.command("list", "list API tokens (never their secrets)", list_tokens, group="token")
    add_json_flag(p)
    p = cli.command("revoke", "revoke an API token", revoke, group="token")
    p.add_argument("id", type=record_id)


def create(args: argparse.Namespace) -> None:
    from django.contrib.auth import get_user_model

    from postroom.api.models import ApiToken

    user = get_user_model().objects.filter(username=args.user).first()
    if user is None:
        raise NotFound(f"no user named {args.user!r}")
    if not (user.is_active and user.is_staff):
        raise InvalidInput(f"{args.user!r} is not an active staff user; the token would not work")
    token, secret = ApiToken.issue(user, args.name)
    emit(args, {"id": token.pk, "token": secret}, f"{secret}\n(shown once: store it now)")


def list_tokens(args: argparse.Namespace) -> None:
    from postroom.api.models import ApiToken

    rows = [
        {
            "id": t.pk,
            "name": t.name,
            "user": t.user.get_username(),
            "hint": t.hint,
            "created_at": t.created_at.isoformat(),
            "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
        }
        for t in ApiToken.objects.select_related("user")
    ]
    emit(
        args,
        rows,
        lambda: (
            "\n".join(f"{r['id']:>4}  {r['hint']}…  {r['name']} ({r['user']})" for r in rows)
            or "no tokens"
        ),
    )


def revoke(args: argparse.Namespace) -> None:
    from postroom.api.models import ApiToken

    deleted, _ = ApiToken.objects.filter(pk=args.id).delete()
    if not deleted:
        raise NotFound(f"no token with id {args.id}")
    print(f"revoked token {args.id}")
