"""Sign-ups from any website: checked and stored by the request, carried out by a worker.

`accept` is what a form post or `POST /api/public/subscription` runs. It does
the same work for every address — count the post, check the lists, the
website, the captcha and the fields, store one SignupRequest row — so neither
the answer nor its time tells a visitor whether an address is new, known,
unsubscribed or blocklisted (measured before this: 322 ms for a new address
against 9 ms for a known one, with a mail server answering in 300 ms).
A worker's step (`process_pending`) then applies the rules of
tracking.confirmations and sends any confirmation email.
"""

import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils.translation import gettext

from postroom.audience.emails import normalize_email
from postroom.audience.languages import supported
from postroom.audience.models import MailingList
from postroom.audience.signup_settings import clean_origin, clean_submission
from postroom.errors import InvalidInput, NotAllowed, NotFound, PostroomError, TooMany
from postroom.tracking import captcha, confirmations
from postroom.tracking.forms import forget_old_counts, over_limit
from postroom.tracking.models import SignupRequest

log = logging.getLogger(__name__)

MAX_LISTS = 20
# A worker holds a request this long; if it dies meanwhile, another one takes it.
LEASE_SECONDS = 120
MAX_ATTEMPTS = 5
HOUSEKEEPING_SECONDS = 60


@dataclass
class Signup:
    """A sign-up as it arrived, in any of the accepted shapes."""

    email: str = ""
    name: str = ""
    lists: list[str] = field(default_factory=list)  # list uuids
    attributes: dict[str, Any] = field(default_factory=dict)
    bot: bool = False  # the honeypot was filled in
    captcha: str | None = None
    language: str = ""  # the language of the page or browser it came from


def own_origin() -> str:
    return clean_origin(settings.POSTROOM_BASE_URL)


def public_lists_by_uuid(values: list[str]) -> list[MailingList]:
    """The public lists named, in order; NotFound for a name that is not one."""
    if not values:
        raise InvalidInput(gettext("name at least one list (its uuid, from the list's page)"))
    if len(values) > MAX_LISTS:
        raise InvalidInput(gettext("at most %(most)s lists at once") % {"most": MAX_LISTS})
    wanted: list[uuid.UUID] = []
    for value in values:
        try:
            wanted.append(uuid.UUID(str(value).strip()))
        except ValueError:
            raise InvalidInput(
                gettext("%(value)s is not a list uuid") % {"value": repr(str(value)[:60])}
            ) from None
    found = {
        ml.uuid: ml
        for ml in MailingList.objects.filter(
            uuid__in=wanted, visibility=MailingList.Visibility.PUBLIC
        )
    }
    missing = [str(u) for u in wanted if u not in found]
    if missing:
        raise NotFound(gettext("no public list %(uuid)s") % {"uuid": missing[0]})
    return list(dict.fromkeys(found[u] for u in wanted))


def origin_allowed(origin: str, lists: list[MailingList]) -> bool:
    """A browser page from `origin` may post to all of `lists` (its own origin always may)."""
    return origin == own_origin() or all(origin in ml.allowed_origins for ml in lists)


def any_list_allows(origin: str) -> bool:
    """Whether some public list takes posts from `origin`: what a CORS preflight can know."""
    if origin == own_origin():
        return True
    public = MailingList.objects.filter(visibility=MailingList.Visibility.PUBLIC)
    # JSONField "contains" is not on SQLite; the lists are few, so read them.
    return any(origin in origins for origins in public.values_list("allowed_origins", flat=True))


def accept(signup: Signup, ip: str | None, origin: str | None) -> list[MailingList]:
    """Check a sign-up and store it for a worker; the lists it is for.

    Raises TooMany past the per-IP limit, NotFound for a list that is not
    public, NotAllowed for a website the lists do not allow, CaptchaFailed,
    and InvalidInput (InvalidEmail) for a bad address or field — each before
    anything is stored. A filled-in honeypot is accepted and stores nothing.
    """
    if over_limit(ip):
        raise TooMany(gettext("too many sign-ups from your network: try again in an hour"))
    lists = public_lists_by_uuid(signup.lists)
    if origin and not origin_allowed(origin, lists):
        raise NotAllowed(
            gettext("the website %(origin)s may not sign people up to %(name)s")
            % {"origin": origin, "name": repr(lists[0].name)}
        )
    if signup.bot:
        return lists
    if any(ml.captcha for ml in lists):
        captcha.verify(signup.captcha)
    address = normalize_email(signup.email)
    fields = [f for ml in lists for f in ml.form_fields]
    attributes = clean_submission(list({f["name"]: f for f in fields}.values()), signup.attributes)
    SignupRequest.objects.create(
        email=address,
        name=" ".join((signup.name or "").split())[:255],
        list_ids=[ml.pk for ml in lists],
        attributes=attributes,
        ip=ip,
        language=supported(signup.language) or "",
    )
    return lists


def process_pending(limit: int = 50, now: float | None = None) -> int:
    """Carry out waiting sign-ups (a worker's step); how many were handled."""
    now = time.time() if now is None else now
    rows = list(SignupRequest.objects.filter(not_before__lte=now).order_by("pk")[:limit])
    handled = 0
    for row in rows:
        held = SignupRequest.objects.filter(pk=row.pk, not_before=row.not_before).update(
            not_before=now + LEASE_SECONDS, attempts=row.attempts + 1
        )
        if held != 1:
            continue  # another worker has it
        handled += 1
        try:
            _carry_out(row)
        except Exception:
            # Kept for another try (the lease runs out); given up after MAX_ATTEMPTS.
            log.exception("sign-up request %s failed (attempt %s)", row.pk, row.attempts + 1)
            if row.attempts + 1 < MAX_ATTEMPTS:
                continue
        SignupRequest.objects.filter(pk=row.pk).delete()
    return handled


def _carry_out(row: SignupRequest) -> None:
    for mailing_list in MailingList.objects.filter(pk__in=row.list_ids):
        try:
            outcome = confirmations.request_subscription(
                row.email,
                mailing_list,
                row.name,
                row.ip,
                attributes=row.attributes,
                public_only=not row.from_link,
                language=row.language,
            )
        except PostroomError as exc:  # the list became private since, the address is refused
            log.info("sign-up request %s to list %s: %s", row.pk, mailing_list.pk, exc)
            continue
        log.info("sign-up request %s to list %s: %s", row.pk, mailing_list.pk, outcome)


def housekeeping(now: float | None = None) -> None:
    """Forget hourly counts and used captcha challenges that no longer matter."""
    forget_old_counts(now)
    captcha.forget_expired(now)


_last_housekeeping = 0.0


def background_step() -> bool:
    """The worker's side thread: waiting sign-ups, and once a minute the housekeeping."""
    global _last_housekeeping
    if time.time() - _last_housekeeping > HOUSEKEEPING_SECONDS:
        _last_housekeeping = time.time()
        housekeeping()
    return process_pending() > 0
