"""Passkeys (WebAuthn): register one on your two-factor page, then sign in with it alone.

A passkey sign-in asks the authenticator to verify the person (PIN, fingerprint,
face), so it is two factors in one: something held and something known or been.
It needs no password and the session it opens is not sent to TOTP enrolment by
POSTROOM_REQUIRE_2FA. Each ceremony's challenge is kept in the session and used once.
The relying party is POSTROOM_BASE_URL's host (browsers allow http only on localhost).
"""

import json
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.sessions.backends.base import SessionBase
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext
from webauthn import (
    base64url_to_bytes,
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import bytes_to_base64url
from webauthn.helpers.exceptions import InvalidAuthenticationResponse, InvalidRegistrationResponse
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from postroom.accounts.models import Passkey
from postroom.errors import InvalidInput, NotAllowed

RP_NAME = "Postroom"
CHALLENGE = "postroom_passkey_challenge"
MAX_PER_USER = 20


class PasskeyRefused(NotAllowed):
    """The browser's answer does not prove a registered passkey."""


def relying_party() -> tuple[str, str]:
    """(RP ID, origin): the host people reach Postroom at, and its origin."""
    url = urlsplit(settings.POSTROOM_BASE_URL)
    return url.hostname or "localhost", f"{url.scheme}://{url.netloc}"


def _remember(session: SessionBase, purpose: str, challenge: bytes) -> None:
    session[CHALLENGE] = {"purpose": purpose, "challenge": bytes_to_base64url(challenge)}


def _take(session: SessionBase, purpose: str) -> bytes:
    """The challenge of this ceremony, removed so an answer cannot be replayed."""
    kept = session.pop(CHALLENGE, None)
    if not kept or kept.get("purpose") != purpose:
        raise PasskeyRefused(gettext("this passkey request has expired: try again"))
    return base64url_to_bytes(kept["challenge"])


def registration_options(user: AbstractBaseUser, session: SessionBase) -> str:
    rp_id, _ = relying_party()
    existing = Passkey.objects.filter(user_id=user.pk).values_list("credential_id", flat=True)
    options = generate_registration_options(
        rp_id=rp_id,
        rp_name=RP_NAME,
        user_id=f"postroom-user-{user.pk}".encode(),
        user_name=user.get_username(),
        # Discoverable, so the log-in page can ask "which passkey?" with no user name typed.
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[
            PublicKeyCredentialDescriptor(id=base64url_to_bytes(cid)) for cid in existing
        ],
    )
    _remember(session, "register", options.challenge)
    return options_to_json(options)


def register(
    user: AbstractBaseUser, session: SessionBase, credential: dict[str, Any], name: str
) -> Passkey:
    name = name.strip() or f"Passkey added {timezone.now():%-d %b %Y}"
    if len(name) > 100:
        raise InvalidInput(gettext("a passkey's name is at most 100 characters"))
    if Passkey.objects.filter(user_id=user.pk).count() >= MAX_PER_USER:
        raise InvalidInput(
            gettext("you have %(count)s passkeys already: remove one first")
            % {"count": MAX_PER_USER}
        )
    challenge = _take(session, "register")
    rp_id, origin = relying_party()
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp_id,
            expected_origin=origin,
            require_user_verification=True,
        )
    except (InvalidRegistrationResponse, ValueError, KeyError, TypeError) as exc:
        raise PasskeyRefused(
            gettext("the passkey could not be checked (%(error)s)") % {"error": exc}
        ) from None
    credential_id = bytes_to_base64url(verified.credential_id)
    if Passkey.objects.filter(credential_id=credential_id).exists():
        raise InvalidInput(gettext("this passkey is registered already"))
    return Passkey.objects.create(
        user_id=user.pk,
        name=name,
        credential_id=credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
    )


def authentication_options(session: SessionBase) -> str:
    rp_id, _ = relying_party()
    options = generate_authentication_options(
        rp_id=rp_id, user_verification=UserVerificationRequirement.REQUIRED
    )
    _remember(session, "sign in", options.challenge)
    return options_to_json(options)


def authenticate(session: SessionBase, credential: dict[str, Any]):
    """The active user whose passkey signed this session's challenge; PasskeyRefused if
    none did."""
    challenge = _take(session, "sign in")
    passkey = (
        Passkey.objects.select_related("user")
        .filter(credential_id=str(credential.get("rawId") or credential.get("id") or ""))
        .first()
    )
    if passkey is None:
        raise PasskeyRefused(
            gettext("this passkey is not registered here (it may have been removed)")
        )
    if not passkey.user.is_active:
        raise PasskeyRefused(
            gettext("the account %(username)s is deactivated")
            % {"username": repr(passkey.user.get_username())}
        )
    rp_id, origin = relying_party()
    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp_id,
            expected_origin=origin,
            credential_public_key=bytes(passkey.public_key),
            credential_current_sign_count=passkey.sign_count,
            require_user_verification=True,
        )
    except (InvalidAuthenticationResponse, ValueError, KeyError, TypeError) as exc:
        raise PasskeyRefused(
            gettext("the passkey's answer does not check out (%(error)s)") % {"error": exc}
        ) from None
    with transaction.atomic():
        # Compare-and-set: two answers racing with the same counter cannot both pass.
        moved = Passkey.objects.filter(pk=passkey.pk, sign_count=passkey.sign_count).update(
            sign_count=verified.new_sign_count, last_used_at=timezone.now()
        )
    if not moved:
        raise PasskeyRefused(
            gettext("this passkey was used at the same moment elsewhere: try again")
        )
    return passkey.user


def remove(user: AbstractBaseUser, passkey_id: int) -> str:
    passkey = Passkey.objects.filter(user_id=user.pk, pk=passkey_id).first()
    if passkey is None:
        raise InvalidInput(gettext("no such passkey of yours"))
    passkey.delete()
    return passkey.name


def of(user: AbstractBaseUser) -> list[Passkey]:
    return list(Passkey.objects.filter(user_id=user.pk))


def parse(body: bytes) -> dict[str, Any]:
    """The JSON a page posts: {"credential": {...}, ...}."""
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        raise InvalidInput(gettext("the request is not JSON")) from None
    if not isinstance(data, dict) or not isinstance(data.get("credential", {}), dict):
        raise InvalidInput(gettext("the request has no credential"))
    return data
