"""A captcha that needs no third party: ALTCHA's proof of work, each solution used once.

The server hands out a challenge: sha256(salt + N) for a secret random N up to
MAX_NUMBER, signed with an HMAC of a key derived from SECRET_KEY, and with an
expiry inside the salt. The browser (static/postroom/signup.js) tries numbers
until the hash matches — about MAX_NUMBER / 2 hashes, a second or so for a
person, a real cost for a script posting thousands — and sends the solution
with the form. The server checks the signature, the expiry and the hash, and
records the challenge, so one solution signs up once.
"""

import base64
import hashlib
import json
import time
from datetime import UTC, datetime

from altcha import ChallengeOptionsV1, create_challenge_v1, verify_solution_v1
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.translation import gettext

from postroom.errors import InvalidInput
from postroom.tracking.models import UsedChallenge

# ~25,000 SHA-256 on average in the browser's WebCrypto: well under a second on a phone.
MAX_NUMBER = 50_000
EXPIRES_SECONDS = 600
FIELD = "altcha"  # the form field, ALTCHA's name for it


class CaptchaFailed(InvalidInput):
    """No solution, a wrong or expired one, or one used before."""


def _key() -> str:
    return hashlib.sha256(b"postroom captcha\0" + settings.SECRET_KEY.encode()).hexdigest()


def challenge(now: float | None = None) -> dict:
    """A fresh challenge in ALTCHA's JSON shape (algorithm, challenge, maxnumber, salt, …)."""
    expires = datetime.fromtimestamp((time.time() if now is None else now) + EXPIRES_SECONDS, UTC)
    made = create_challenge_v1(
        ChallengeOptionsV1(hmac_key=_key(), max_number=MAX_NUMBER, expires=expires)
    )
    return {
        "algorithm": made.algorithm,
        "challenge": made.challenge,
        "maxnumber": made.max_number,
        "salt": made.salt,
        "signature": made.signature,
    }


def verify(payload: str | None) -> None:
    """Accept a solution once; CaptchaFailed otherwise."""
    if not payload:
        raise CaptchaFailed(gettext("solve the captcha first (it runs by itself in the browser)"))
    try:
        ok, _ = verify_solution_v1(payload, _key(), check_expires=True)
        solved = json.loads(base64.b64decode(payload)) if ok else None
    except (TypeError, ValueError, KeyError, AttributeError):  # a payload of the wrong shape
        ok = False
    if not ok or not isinstance(solved, dict):
        raise CaptchaFailed(gettext("the captcha solution is wrong or has expired: try again"))
    try:
        with transaction.atomic():
            UsedChallenge.objects.create(
                challenge=str(solved["challenge"])[:128],
                expires_at=time.time() + EXPIRES_SECONDS,
            )
    except IntegrityError:
        raise CaptchaFailed(gettext("this captcha solution was used already: try again")) from None


def forget_expired(now: float | None = None) -> int:
    """Used challenges past their expiry can go: an expired solution fails anyway."""
    moment = time.time() if now is None else now
    return UsedChallenge.objects.filter(expires_at__lt=moment).delete()[0]
