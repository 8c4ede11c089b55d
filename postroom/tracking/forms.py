"""The public subscription form: its fields, the bot trap and the per-IP limit.

The limit is a count of sign-up posts per client network per hour, kept in
the database (SignupCount), so every web process — several gunicorn workers,
several machines — counts into the same number. It is a fixed hourly window:
a visitor can make up to twice the limit across the turn of an hour, which is
enough for a brake on one visitor signing up many addresses.
"""

import ipaddress
import time

from django import forms
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _

from postroom.audience.emails import InvalidEmail, normalize_email
from postroom.audience.models import MailingList
from postroom.tracking.models import SignupCount

# A field people never see (it is moved off-screen) but form-filling bots fill in;
# listmonk's forms call theirs "nonce", so a form copied from there keeps working.
HONEYPOT = "website"
HONEYPOTS = (HONEYPOT, "nonce")
LIMIT_WINDOW = 3600  # seconds


class SubscribeForm(forms.Form):
    email = forms.CharField(
        max_length=320, label=_("Email address"), widget=forms.EmailInput(attrs={"autofocus": True})
    )
    name = forms.CharField(max_length=255, required=False, label=_("Name (optional)"))

    def clean_email(self) -> str:
        try:
            return normalize_email(self.cleaned_data["email"])
        except InvalidEmail as exc:
            raise forms.ValidationError(exc.detail) from None

    @property
    def is_bot(self) -> bool:
        return any(str(self.data.get(name, "")).strip() for name in HONEYPOTS)


def public_lists() -> list[MailingList]:
    return list(MailingList.objects.filter(visibility=MailingList.Visibility.PUBLIC))


def list_key(mailing_list: MailingList, lists: list[MailingList]) -> str:
    """The list's part of its form URL: its name as a slug, or its id when that is ambiguous."""
    slug = slugify(mailing_list.name, allow_unicode=True)
    if (
        not slug
        or slug.isdigit()
        or sum(slugify(ml.name, allow_unicode=True) == slug for ml in lists) > 1
    ):
        return str(mailing_list.pk)
    return slug


def find_public_list(key: str) -> MailingList | None:
    """The public list a form URL names, by id or slug; None for private or unknown lists."""
    lists = public_lists()
    if key.isdigit():
        return next((ml for ml in lists if str(ml.pk) == key), None)
    return next((ml for ml in lists if list_key(ml, lists) == key), None)


def _network(ip: str | None) -> str:
    # One IPv6 host usually holds a whole /64, so that is what counts as one visitor.
    if ip is None:
        return "unknown"
    address = ipaddress.ip_address(ip)
    if address.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return ip


def over_limit(ip: str | None, now: float | None = None) -> bool:
    """Count one sign-up post from `ip`; True once it made more than the hourly limit.

    POSTROOM_SUBSCRIBE_LIMIT (default 10) posts an hour per IPv4 address or IPv6 /64,
    counted in the database: the same number for every web process.
    """
    hour = int((time.time() if now is None else now) // LIMIT_WINDOW)
    rows = SignupCount.objects.filter(network=_network(ip), hour=hour)
    if not rows.update(count=F("count") + 1):
        try:
            with transaction.atomic():
                SignupCount.objects.create(network=_network(ip), hour=hour, count=1)
        except IntegrityError:  # another process counted the first post a moment ago
            rows.update(count=F("count") + 1)
    count = rows.values_list("count", flat=True).first() or 0
    return count > settings.POSTROOM_SUBSCRIBE_LIMIT


def forget_old_counts(now: float | None = None) -> int:
    """Drop the counts of hours that are over (a worker's housekeeping)."""
    hour = int((time.time() if now is None else now) // LIMIT_WINDOW)
    return SignupCount.objects.filter(hour__lt=hour).delete()[0]
