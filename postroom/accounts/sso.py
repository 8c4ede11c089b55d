"""Single sign-on: who a person signed in at the OpenID Connect provider is in Postroom.

The provider's claims decide the role at every sign-in (a configured claim such as
`groups`, mapped to roles in POSTROOM_OIDC_ROLES), so a change at the provider takes
effect the next time the person signs in. A person is found by the provider's subject;
the first time, a staff user with the same *verified* email is linked, otherwise a user
is made. A deactivated user, or one whose claims map to no role, is refused with the
reason. The web glue (discovery, tokens) is in accounts/oidc.py.
"""

import contextlib
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.db import IntegrityError, transaction
from django.utils.translation import gettext

from postroom.accounts import services
from postroom.accounts.models import Profile, Role, SsoIdentity
from postroom.accounts.roles import ORDER, stored_role
from postroom.errors import InvalidInput, NotAllowed


class SignInRefused(NotAllowed):
    """The provider vouched for the person, but Postroom does not let them in."""


def enabled() -> bool:
    return bool(settings.POSTROOM_OIDC_ISSUER)


def _values(claim: Any) -> Iterable[str]:
    if claim is None:
        return []
    if isinstance(claim, str | int):
        return [str(claim)]
    if isinstance(claim, list | tuple):
        return [str(item) for item in claim]
    return []


def role_from_claims(claims: dict[str, Any]) -> Role | None:
    """The most powerful role any of the person's claim values maps to, else the default."""
    mapping: dict[str, str] = settings.POSTROOM_OIDC_ROLE_MAP
    values = _values(claims.get(settings.POSTROOM_OIDC_ROLE_CLAIM))
    found = [Role(mapping[value]) for value in values if value in mapping]
    if found:
        return min(found, key=ORDER.index)
    default = settings.POSTROOM_OIDC_DEFAULT_ROLE
    return Role(default) if default else None


def _linked_by_email(claims: dict[str, Any]) -> AbstractUser | None:
    """The one staff user with this address, if the provider says it checked the address
    and nobody from this provider is linked to that user yet."""
    email = str(claims.get("email") or "").strip()
    if not email or claims.get("email_verified") is not True:
        return None
    candidates = list(
        get_user_model()
        .objects.filter(email__iexact=email, is_staff=True)
        .exclude(postroom_sso__issuer=settings.POSTROOM_OIDC_ISSUER)[:2]
    )
    return candidates[0] if len(candidates) == 1 else None


def _new_user(claims: dict[str, Any], role: Role) -> AbstractUser:
    email = str(claims.get("email") or "").strip()
    wanted = str(claims.get("preferred_username") or email.split("@", 1)[0] or "sso-user")
    user = get_user_model()(
        username=services.free_username(wanted), email=email, is_staff=True, is_active=True
    )
    user.set_unusable_password()  # signs in at the provider only; no reset link either
    user.save()
    Profile.objects.create(user=user, role=role)
    return user


def _apply_role(user: AbstractUser, role: Role) -> None:
    """The provider's role, except that Postroom never demotes its last owner."""
    if stored_role(user) == role:
        return
    with contextlib.suppress(InvalidInput):  # refused for the last owner, who stays owner
        services.set_role(user.get_username(), role)


def sign_in(claims: dict[str, Any]) -> AbstractUser:
    """The Postroom user for these (verified) claims, made or updated; SignInRefused when
    the person may not come in."""
    subject = str(claims.get("sub") or "")
    if not subject:
        raise SignInRefused(gettext("the provider sent no subject (sub) for this person"))
    role = role_from_claims(claims)
    issuer = settings.POSTROOM_OIDC_ISSUER
    name = settings.POSTROOM_OIDC_NAME
    identity = (
        SsoIdentity.objects.select_related("user").filter(issuer=issuer, subject=subject).first()
    )
    user = identity.user if identity is not None else _linked_by_email(claims)
    if user is not None and not user.is_active:
        raise SignInRefused(
            gettext("the Postroom account %(username)s is deactivated")
            % {"username": repr(user.get_username())}
        )
    if role is None:
        raise SignInRefused(
            gettext(
                "your account at %(provider)s gives you no role in Postroom"
                " (no %(claim)s value that Postroom maps to a role)"
            )
            % {"provider": name, "claim": repr(settings.POSTROOM_OIDC_ROLE_CLAIM)}
        )
    try:
        with transaction.atomic():
            if user is None:
                user = _new_user(claims, role)
            else:
                _apply_role(user, role)
            if identity is None:
                SsoIdentity.objects.create(user_id=user.pk, issuer=issuer, subject=subject)
    except IntegrityError:
        # The same person's second tab won the race: its identity is there now.
        return SsoIdentity.objects.get(issuer=issuer, subject=subject).user
    return user


def has_identity(user: AbstractUser) -> bool:
    return SsoIdentity.objects.filter(user_id=user.pk).exists()
