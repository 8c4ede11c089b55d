"""API tokens: issued to a user, optionally narrowed, revoked. The CLI and the settings page
call these; api.auth checks a token at every call and api.scope applies its narrowing.

A token carries its user's role as it is at the time of each call: narrowing
(scopes, lists) can only take away, never add.
"""

from collections.abc import Callable, Iterable
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, User
from django.db import transaction
from django.utils.translation import gettext

from postroom.accounts import roles
from postroom.api.models import SCOPES, ApiToken
from postroom.audience.models import MailingList
from postroom.audience.services import resolve_lists
from postroom.errors import InvalidInput, NotFound
from postroom.storedtext import gettext_noop


def clean_scopes(scopes: Iterable[str]) -> list[str]:
    chosen = sorted({s.strip() for s in scopes if s and s.strip()})
    unknown = [s for s in chosen if s not in SCOPES]
    if unknown:
        raise InvalidInput(
            gettext("unknown scope %(scope)s: use %(scopes)s")
            % {"scope": repr(unknown[0]), "scopes": ", ".join(SCOPES)}
        )
    return chosen


def create(
    user: AbstractBaseUser,
    name: str,
    scopes: Iterable[str] = (),
    lists: Iterable[MailingList | str] = (),
) -> tuple[ApiToken, str]:
    """A new token for `user` (shown once); everything is checked before it exists."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise InvalidInput(gettext("a token needs a name of 1 to 100 characters"))
    if roles.role_of(user) is None:
        raise InvalidInput(
            gettext("%(user)s is not an active staff user; the token would not work")
            % {"user": repr(user.get_username())}
        )
    chosen = clean_scopes(scopes)
    mailing_lists = resolve_lists(list(lists))
    with transaction.atomic():
        return ApiToken.issue(user, name, scopes=chosen, lists=mailing_lists)


def of(user: User | None = None):
    """Tokens (of one user, or all), newest first, never their secrets."""
    qs = ApiToken.objects.select_related("user").prefetch_related("lists")
    return qs if user is None else qs.filter(user=user)


def revoke(token_id: int, user: User | None = None) -> None:
    """Revoke a token (one of `user`'s when given): its next call is 401."""
    deleted, _ = of(user).filter(pk=token_id).delete()
    if not deleted:
        raise NotFound(gettext("no token with id %(token_id)s") % {"token_id": token_id})


def describe(token: ApiToken) -> dict[str, Any]:
    return {
        "id": token.pk,
        "name": token.name,
        "user": token.user.get_username(),
        "hint": token.hint,
        "scopes": list(token.scopes),
        "lists": sorted(ml.name for ml in token.lists.all()),
        "created_at": token.created_at.isoformat(),
        "last_used_at": token.last_used_at.isoformat() if token.last_used_at else None,
    }


def summary(token: ApiToken, translate: Callable[[str], str] = str) -> str:
    """What the token may do, in words: "everything its user's role allows" or narrower.

    In English for the audit log and the CLI; the tokens page passes gettext."""
    parts = [translate(SCOPES[s]) for s in token.scopes] or [
        translate(gettext_noop("everything its user's role allows"))
    ]
    lists = sorted(ml.name for ml in token.lists.all())
    if lists:
        parts.append(
            translate(gettext_noop("only the lists %(lists)s")) % {"lists": ", ".join(lists)}
        )
    return translate(gettext_noop("; ")).join(parts)
