"""`postroom users add|list|role|deactivate|reactivate|unlock` and `postroom audit`."""

import argparse
import sys

from postroom.cli import CLI, COUNT, add_json_flag, emit


def register(cli: CLI) -> None:
    p = cli.command("add", "add a user with a role (prints a password once)", add, group="users")
    p.add_argument("username")
    p.add_argument("--email", default="")
    p.add_argument("--role", required=True, help="owner, admin, editor or viewer")
    add_json_flag(p)
    p = cli.command(
        "list", "list users, their roles and whether they are locked", list_users, group="users"
    )
    add_json_flag(p)
    p = cli.command("role", "change a user's role (ends their sessions)", role, group="users")
    p.add_argument("username")
    p.add_argument("role", help="owner, admin, editor or viewer")
    p = cli.command(
        "lists",
        "let an editor or viewer see and mail only these lists (none given: every list)",
        grant_lists,
        group="users",
    )
    p.add_argument("username")
    p.add_argument("lists", nargs="*", metavar="LIST")
    p = cli.command(
        "deactivate", "stop a user from logging in (ends their sessions)", deactivate, group="users"
    )
    p.add_argument("username")
    p = cli.command("reactivate", "let a deactivated user log in again", reactivate, group="users")
    p.add_argument("username")
    p = cli.command(
        "unlock", "clear a user's failed log-ins so they may try at once", unlock, group="users"
    )
    p.add_argument("username")
    p = cli.command(
        "reset-2fa", "remove a user's two-factor log-in (a lost phone)", reset_2fa, group="users"
    )
    p.add_argument("username")
    cli.command(
        "new-key", "print a new key for POSTROOM_CREDENTIALS_KEY", new_key, group="credentials"
    )
    cli.command(
        "rotate",
        "seal every stored password again with the first POSTROOM_CREDENTIALS_KEY",
        rotate,
        group="credentials",
    )
    p = cli.command("audit", "print the audit log (newest first; CSV with --csv)", audit)
    p.add_argument("--user", default="", help="only this username")
    p.add_argument("--action", default="", help="only actions containing this text")
    p.add_argument("--limit", type=COUNT, default=50)
    p.add_argument("--csv", action="store_true", help="all matching entries as CSV")


def add(args: argparse.Namespace) -> None:
    from postroom.accounts import services

    user, password = services.add_user(args.username, args.email, services.parse_role(args.role))
    emit(
        args,
        {
            "username": user.username,
            "role": services.parse_role(args.role).value,
            "password": password,
        },
        f"Added {user.username!r} as {args.role.lower()}.\nPassword: {password}\n"
        "(shown once; they can change it under Settings)",
    )


def list_users(args: argparse.Namespace) -> None:
    from dataclasses import asdict

    from postroom.accounts import services

    rows = services.rows()
    emit(
        args,
        [asdict(row) for row in rows],
        lambda: (
            "\n".join(
                f"{r.username:<20} {r.role:<7} {'active' if r.active else 'deactivated'}"
                + ("  LOCKED" if r.locked else "")
                + (f"  lists: {', '.join(r.lists)}" if r.lists else "")
                for r in rows
            )
            or "no users"
        ),
    )


def role(args: argparse.Namespace) -> None:
    from postroom.accounts import services

    new = services.parse_role(args.role)
    user = services.set_role(args.username, new)
    print(f"{user.username!r} is now {new.value}")


def grant_lists(args: argparse.Namespace) -> None:
    from postroom.accounts import services

    user = services.set_lists(args.username, args.lists)
    what = f"only {', '.join(args.lists)}" if args.lists else "every list"
    print(f"{user.username!r} now sees and mails {what}")


def deactivate(args: argparse.Namespace) -> None:
    from postroom.accounts import services

    user = services.deactivate(args.username)
    print(f"{user.username!r} is deactivated")


def reactivate(args: argparse.Namespace) -> None:
    from postroom.accounts import services

    user = services.reactivate(args.username)
    print(f"{user.username!r} may log in again")


def unlock(args: argparse.Namespace) -> None:
    from postroom.accounts import services

    cleared = services.unlock(args.username)
    print(f"{args.username!r} unlocked ({cleared} failed log-in(s) cleared)")


def reset_2fa(args: argparse.Namespace) -> None:
    from postroom.accounts import services, twofactor

    user = services.find(args.username)
    twofactor.disable(user)
    print(f"{user.username!r} logs in with a password only until they enrol again")


def new_key(args: argparse.Namespace) -> None:
    from cryptography.fernet import Fernet

    print(Fernet.generate_key().decode())


def rotate(args: argparse.Namespace) -> None:
    from postroom.accounts import services

    print(f"{services.reseal_all()} stored password(s) sealed with the first key")


def audit(args: argparse.Namespace) -> None:
    from postroom.accounts import audit as log

    entries = log.filtered(username=args.user, action=args.action)
    if args.csv:
        sys.stdout.writelines(log.csv_rows(entries))
        return
    for entry in list(entries[: args.limit]):
        print(
            f"{entry.at:%Y-%m-%d %H:%M:%S}  {entry.username or '-':<14} {entry.ip or '-':<15} "
            f"{entry.action}  {entry.target}  {entry.detail}"
        )
