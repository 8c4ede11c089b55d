"""Two-factor log-in with an authenticator app (TOTP, RFC 6238) and recovery codes.

A code is accepted within one step (30 s) of the clock on either side, never
twice (the step is remembered), and wrong codes count toward the same lockout
as wrong passwords. POSTROOM_REQUIRE_2FA makes enrolment compulsory for all
users or for the roles it names.
"""

import hashlib
import secrets
import time

import pyotp
import segno
from django.conf import settings
from django.utils import timezone

from postroom.accounts.models import Role, TwoFactor
from postroom.accounts.roles import role_of

ISSUER = "Postroom"
# How a session was opened when it was not by a password: "sso" (the provider's second
# factor is the provider's business) or "passkey" (two factors in one). Such sessions
# are not sent to enrolment: POSTROOM_REQUIRE_2FA is about password log-ins.
STRONG_LOGIN = "postroom_strong_login"
RECOVERY_CODES = 10


def _hash(code: str) -> str:
    return hashlib.sha256(code.strip().lower().replace("-", "").encode()).hexdigest()


def active_for(user) -> TwoFactor | None:
    """The user's confirmed authenticator, or None when their log-in is password only."""
    return TwoFactor.objects.filter(user_id=user.pk, confirmed_at__isnull=False).first()


def required_for(user) -> bool:
    wanted = {item.strip().lower() for item in settings.POSTROOM_REQUIRE_2FA.split(",")}
    wanted.discard("")
    if not wanted:
        return False
    role = role_of(user)
    return "all" in wanted or (role is not None and Role(role).value in wanted)


def missing_for(user) -> bool:
    """Required for this user but not set up yet: every admin page leads to enrolment."""
    return required_for(user) and active_for(user) is None


def start_enrolment(user) -> TwoFactor:
    """The user's enrolment: a fresh secret the first time, the same one while they scan it."""
    existing = TwoFactor.objects.filter(user_id=user.pk).first()
    return existing or TwoFactor.objects.create(user=user, secret=pyotp.random_base32())


def provisioning_uri(two_factor: TwoFactor) -> str:
    return pyotp.TOTP(two_factor.secret).provisioning_uri(
        name=two_factor.user.get_username(), issuer_name=ISSUER
    )


def qr_svg(two_factor: TwoFactor) -> str:
    """The enrolment QR code as inline SVG markup (no image request, no script)."""
    code = segno.make(provisioning_uri(two_factor), error="m")
    return code.svg_inline(scale=4, dark="#111", light="#fff", title="Scan with your app")


def _matching_step(two_factor: TwoFactor, code: str, now: float | None = None) -> int | None:
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(two_factor.secret)
    step = int((now or time.time()) // totp.interval)
    for candidate in (step, step - 1, step + 1):
        if secrets.compare_digest(totp.generate_otp(candidate), code):
            return candidate
    return None


def confirm(two_factor: TwoFactor, code: str) -> list[str] | None:
    """Finish enrolment with a first code; returns the recovery codes (shown once)."""
    step = _matching_step(two_factor, code)
    if step is None:
        return None
    codes = [f"{secrets.token_hex(4)}-{secrets.token_hex(4)}" for _ in range(RECOVERY_CODES)]
    two_factor.confirmed_at = timezone.now()
    two_factor.last_step = step
    two_factor.recovery_hashes = [_hash(c) for c in codes]
    two_factor.save()
    return codes


def verify(two_factor: TwoFactor, code: str) -> bool:
    """A log-in code or a recovery code; each works once."""
    step = _matching_step(two_factor, code)
    if step is not None:
        # Compare-and-set, so two requests racing with the same code cannot both pass.
        return bool(
            TwoFactor.objects.filter(pk=two_factor.pk, last_step__lt=step).update(last_step=step)
        )
    hashed = _hash(code)
    if hashed in two_factor.recovery_hashes:
        two_factor.recovery_hashes = [h for h in two_factor.recovery_hashes if h != hashed]
        two_factor.save(update_fields=["recovery_hashes"])
        return True
    return False


def disable(user) -> None:
    TwoFactor.objects.filter(user_id=user.pk).delete()
