"""The public subscription form: its fields, the bot trap and the per-IP limit.

The limit is kept in Django's cache (`CACHES`; by default each web process's
memory): a count of form posts per client network per hour. It is a brake on
one visitor signing up many addresses, not an accounting record, so it needs
no table; with several web processes and the default cache each process counts
on its own (so the limit is per process), and a shared cache makes it exact.
"""

import ipaddress

from django import forms
from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django.utils.text import slugify

from postroom.audience.emails import InvalidEmail, normalize_email
from postroom.audience.models import MailingList

# A field people never see (it is moved off-screen) but form-filling bots fill in.
HONEYPOT = "website"
LIMIT_WINDOW = 3600  # seconds


class SubscribeForm(forms.Form):
    email = forms.CharField(max_length=320, widget=forms.EmailInput(attrs={"autofocus": True}))
    name = forms.CharField(max_length=255, required=False, label="Name (optional)")

    def clean_email(self) -> str:
        try:
            return normalize_email(self.cleaned_data["email"])
        except InvalidEmail as exc:
            raise forms.ValidationError(exc.detail) from None

    @property
    def is_bot(self) -> bool:
        return bool(self.data.get(HONEYPOT, "").strip())


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


def client_ip(request: HttpRequest) -> str | None:
    """The visitor's address; behind a proxy (BEHIND_PROXY=true) the one it saw.

    Only the last X-Forwarded-For entry is trusted: it was added by our own
    proxy, while earlier ones are whatever the client claimed.
    """
    raw = request.META.get("REMOTE_ADDR", "")
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if forwarded and settings.POSTROOM_BEHIND_PROXY:
        raw = forwarded.split(",")[-1].strip()
    try:
        return str(ipaddress.ip_address(raw))
    except ValueError:
        return None


def _network(ip: str | None) -> str:
    # One IPv6 host usually holds a whole /64, so that is what counts as one visitor.
    if ip is None:
        return "unknown"
    address = ipaddress.ip_address(ip)
    if address.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return ip


def over_limit(ip: str | None) -> bool:
    """Count one form post from `ip`; True once it made more than the hourly limit.

    POSTROOM_SUBSCRIBE_LIMIT (default 10) posts an hour per IPv4 address or IPv6 /64.
    """
    limit = settings.POSTROOM_SUBSCRIBE_LIMIT
    key = f"postroom:subscribe-posts:{_network(ip)}"
    cache.add(key, 0, LIMIT_WINDOW)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, LIMIT_WINDOW)
        count = 1
    return count > limit
