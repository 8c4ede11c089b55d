"""Managing users: add, change role, deactivate, unlock. The UI and the CLI both call these.

Postroom's users are Django users with `is_staff` set and a Profile holding the
role. A change of role or a deactivation ends the person's open sessions (see
web/permissions.py and Django's inactive-user rule), so it takes effect at once.
"""

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils.translation import gettext

from postroom import credentials
from postroom.accounts import roles, throttle
from postroom.accounts.models import Profile, Role
from postroom.accounts.roles import role_of, stored_role
from postroom.audience.models import MailingList
from postroom.delivery.models import Sender
from postroom.errors import InvalidInput, NotFound
from postroom.tracking.models import BounceMailbox


@dataclass(frozen=True)
class UserRow:
    username: str
    email: str
    role: str
    active: bool
    last_login: datetime | None
    locked: bool
    lists: list[str]  # granted lists; empty: every list


def parse_role(raw: str) -> Role:
    try:
        return Role(raw.strip().lower())
    except ValueError:
        choices = ", ".join(r.value for r in Role)
        raise InvalidInput(
            gettext("%(role)s is not a role; choose one of %(choices)s")
            % {"role": repr(raw), "choices": choices}
        ) from None


def find(username: str) -> AbstractUser:
    user = get_user_model().objects.filter(username=username.strip()).first()
    if user is None:
        raise NotFound(gettext("no user named %(username)s") % {"username": repr(username.strip())})
    return user


def _not_an_address(email: str) -> str:
    return gettext("%(email)s is not a valid email address") % {"email": repr(email)}


def add_user(username: str, email: str, role: Role, password: str | None = None):
    """Create an active user with a role; returns (user, password), generating one if none
    is given (the caller shows it once)."""
    User = get_user_model()
    username = username.strip()
    if not username or any(c.isspace() for c in username) or len(username) > 150:
        raise InvalidInput(gettext("a user name is 1 to 150 characters without spaces"))
    if User.objects.filter(username=username).exists():
        raise InvalidInput(
            gettext("user %(username)s already exists") % {"username": repr(username)}
        )
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise InvalidInput(_not_an_address(email)) from None
    password = password or secrets.token_urlsafe(12)
    user = User(username=username, email=email, is_staff=True, is_active=True)
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise InvalidInput(
            gettext("password refused: %(reasons)s") % {"reasons": " ".join(exc.messages)}
        ) from None
    user.set_password(password)
    with transaction.atomic():
        user.save()
        Profile.objects.create(user=user, role=role)
    return user, password


def _other_owners(user) -> bool:
    return any(
        role_of(other) == Role.OWNER
        for other in get_user_model()
        .objects.filter(is_staff=True, is_active=True)
        .exclude(pk=user.pk)
    )


def set_role(username: str, role: Role) -> AbstractUser:
    user = find(username)
    if role_of(user) == Role.OWNER and role != Role.OWNER and not _other_owners(user):
        raise InvalidInput(
            gettext("%(username)s is the last owner; make someone else owner first")
            % {"username": repr(user.username)}
        )
    with transaction.atomic():
        Profile.objects.update_or_create(user_id=user.pk, defaults={"role": role})
        if not user.is_staff:
            user.is_staff = True
            user.save(update_fields=["is_staff"])
    return user


def set_lists(username: str, list_names: Iterable[str]) -> AbstractUser:
    """Grant an editor or viewer these lists only (accounts.access); none: every list."""
    user = find(username)
    names = [name.strip() for name in list_names if name.strip()]
    lists = list(MailingList.objects.filter(name__in=names))
    missing = sorted(set(names) - {ml.name for ml in lists})
    if missing:
        raise InvalidInput(
            gettext("no list named %(name)s") % {"name": ", ".join(repr(n) for n in missing)}
        )
    if lists and roles.at_least(stored_role(user), Role.ADMIN):
        raise InvalidInput(
            gettext(
                "%(username)s is %(role)s: owners and admins see every list;"
                " make them an editor or viewer first"
            )
            % {"username": repr(user.username), "role": stored_role(user).value}
        )
    with transaction.atomic():
        profile, _ = Profile.objects.get_or_create(
            user_id=user.pk, defaults={"role": stored_role(user)}
        )
        profile.lists.set(lists)
    return user


def deactivate(username: str) -> AbstractUser:
    user = find(username)
    if role_of(user) == Role.OWNER and not _other_owners(user):
        raise InvalidInput(
            gettext("%(username)s is the last owner; it cannot be deactivated")
            % {"username": repr(user.username)}
        )
    user.is_active = False
    user.save(update_fields=["is_active"])
    return user


def reactivate(username: str) -> AbstractUser:
    user = find(username)
    user.is_active = True
    user.save(update_fields=["is_active"])
    return user


def unlock(username: str) -> int:
    find(username)
    return throttle.forget(username)


def rows() -> list[UserRow]:
    locked = set(throttle.locked_usernames())
    granted: dict[int, list[str]] = {}
    for user_id, name in Profile.lists.through.objects.order_by("mailinglist__name").values_list(
        "profile__user_id", "mailinglist__name"
    ):
        granted.setdefault(user_id, []).append(name)
    result = []
    for user in get_user_model().objects.filter(is_staff=True).order_by("username"):
        role = stored_role(user)
        result.append(
            UserRow(
                username=user.username,
                email=user.email,
                role=role.value,
                active=user.is_active,
                last_login=user.last_login,
                locked=user.username.casefold() in locked,
                lists=granted.get(user.pk, []),
            )
        )
    return result


def free_username(wanted: str) -> str:
    """`wanted` (spaces removed, cut to fit), or with 2, 3 … after it when it is taken."""
    base = "".join(wanted.split())[:140] or "user"
    username, n = base, 1
    while get_user_model().objects.filter(username=username).exists():
        n += 1
        username = f"{base}{n}"
    return username


def invite(email: str, role: Role, username: str = ""):
    """Create the invited user, active but with no password until they follow the link."""
    try:
        validate_email(email)
    except ValidationError:
        raise InvalidInput(_not_an_address(email)) from None
    User = get_user_model()
    if User.objects.filter(email__iexact=email, is_staff=True).exists():
        raise InvalidInput(
            gettext("a user with the address %(email)s already exists") % {"email": email}
        )
    username = free_username(username or email.split("@", 1)[0])
    user = User(username=username, email=email, is_staff=True, is_active=True)
    user.set_unusable_password()
    with transaction.atomic():
        user.save()
        Profile.objects.create(user=user, role=role)
    return user


def for_reset(email: str):
    """The active user a reset link may go to, or None (the caller answers the same).

    Not someone who signs in through single sign-on: a password of their own would let
    them in after the provider took their access away."""
    return (
        get_user_model()
        .objects.filter(email__iexact=email.strip(), is_active=True, is_staff=True)
        .filter(postroom_sso__isnull=True)
        .first()
    )


def reseal_all() -> int:
    """Seal every stored SMTP and mailbox password with the first credentials key (the
    second step of a key rotation); returns how many were sealed again."""
    count = 0
    with transaction.atomic():
        for sender in Sender.objects.exclude(password_sealed="").select_for_update():
            sender.password_sealed = credentials.reseal(sender.password_sealed)
            sender.save(update_fields=["password_sealed"])
            count += 1
        for box in BounceMailbox.objects.exclude(password="").select_for_update():
            box.password = credentials.reseal(box.password)
            box.save(update_fields=["password"])
            count += 1
    return count
