"""The brand public pages wear: checked when saved, merged (list over installation) when shown.

One checker for the Settings page, a list's page and anything later, so a
value refused in one place is refused everywhere with the same words. The
colour is only ever a checked `#rrggbb` and the text on it is white or black,
whichever reads better (the better of the two always passes WCAG AA's 4.5:1);
the logo is an https URL, never http or data; the postal address is plain
text (templates escape it).
"""

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext

from postroom.audience.models import MailingList
from postroom.errors import InvalidInput
from postroom.public.models import Branding

FIELDS = ("name", "logo_url", "colour", "postal_address")
MAX_NAME = 100
MAX_URL = 500
MAX_ADDRESS = 500
MAX_ADDRESS_LINES = 6
# Postroom's own accent, used when nobody chose a colour.
DEFAULT_COLOUR = "#3d5afe"
AA_CONTRAST = 4.5
_COLOUR = re.compile(r"#[0-9a-f]{6}")
_HOST = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*")


def clean_colour(value: Any) -> str:
    """`#RRGGBB` or `#rgb` → `#rrggbb`; empty stays empty; anything else is refused."""
    raw = str(value or "").strip().lower()
    if not raw:
        return ""
    if re.fullmatch(r"#[0-9a-f]{3}", raw):
        raw = "#" + "".join(c * 2 for c in raw[1:])
    if not _COLOUR.fullmatch(raw):
        raise InvalidInput(
            gettext("%(value)s is not a colour: write it as #rrggbb, e.g. #1f6feb")
            % {"value": repr(str(value)[:20])}
        )
    return raw


def clean_logo_url(value: Any) -> str:
    """An https URL of an image (shown as <img src>); empty for no logo."""
    raw = str(value or "").strip()
    if not raw:
        return ""
    if len(raw) > MAX_URL:
        raise InvalidInput(
            gettext("the logo URL has at most %(limit)s characters") % {"limit": MAX_URL}
        )
    if any(c.isspace() or ord(c) < 32 for c in raw) or not raw.isascii():
        raise InvalidInput(gettext("the logo URL may not contain spaces or non-ASCII characters"))
    parts = urlsplit(raw)
    if parts.scheme != "https" or not parts.hostname:
        raise InvalidInput(
            gettext("%(url)s is not an https URL: the logo must be an https:// address")
            % {"url": repr(raw[:60])}
        )
    if parts.username or parts.password:
        raise InvalidInput(gettext("the logo URL may not carry a user name or password"))
    # The host goes into the public pages' Content-Security-Policy: letters, digits,
    # dots and dashes only, so it can never add a directive of its own.
    if not _HOST.fullmatch(parts.hostname):
        raise InvalidInput(
            gettext("%(host)s is not a host name the logo can come from")
            % {"host": repr(parts.hostname[:60])}
        )
    try:
        parts.port  # noqa: B018 - reading it checks it
    except ValueError:
        raise InvalidInput(gettext("the logo URL has an invalid port")) from None
    return raw


def clean_name(value: Any) -> str:
    name = " ".join(str(value or "").split())
    if len(name) > MAX_NAME:
        raise InvalidInput(
            gettext("the name has at most %(limit)s characters") % {"limit": MAX_NAME}
        )
    return name


def clean_postal_address(value: Any) -> str:
    """Plain text on a few lines, as it would go on an envelope."""
    lines = [" ".join(line.split()) for line in str(value or "").strip().splitlines()]
    lines = [line for line in lines if line]
    text = "\n".join(lines)
    if len(text) > MAX_ADDRESS:
        raise InvalidInput(
            gettext("the postal address has at most %(limit)s characters") % {"limit": MAX_ADDRESS}
        )
    if len(lines) > MAX_ADDRESS_LINES:
        raise InvalidInput(
            gettext("the postal address has at most %(limit)s lines") % {"limit": MAX_ADDRESS_LINES}
        )
    return text


CLEANERS = {
    "name": clean_name,
    "logo_url": clean_logo_url,
    "colour": clean_colour,
    "postal_address": clean_postal_address,
}


def clean(values: dict[str, Any]) -> dict[str, str]:
    unknown = set(values) - set(FIELDS)
    if unknown:
        raise InvalidInput(
            gettext("unknown branding field(s): %(fields)s")
            % {"fields": ", ".join(sorted(unknown))}
        )
    return {name: CLEANERS[name](value) for name, value in values.items()}


def stored(mailing_list: MailingList | None) -> Branding:
    """The row as saved (a blank one, unsaved, when there is none)."""
    found = Branding.objects.filter(mailing_list=mailing_list).first()
    return found or Branding(mailing_list=mailing_list)


def save(mailing_list: MailingList | None, values: dict[str, Any], user: Any = None) -> Branding:
    """Check every value first, then store them; bad input changes nothing."""
    cleaned = clean(values)
    with transaction.atomic():
        row, _ = Branding.objects.select_for_update().get_or_create(mailing_list=mailing_list)
        for name, value in cleaned.items():
            setattr(row, name, value)
        row.updated_by = user if getattr(user, "is_authenticated", False) else None
        row.save()
    return row


# -- colours -----------------------------------------------------------------


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def luminance(colour: str) -> float:
    """WCAG 2 relative luminance of `#rrggbb`."""
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two `#rrggbb` colours, 1 to 21."""
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def text_on(colour: str) -> str:
    """White or black, whichever has more contrast on `colour` (at least 4.58:1, always)."""
    return "#ffffff" if contrast(colour, "#ffffff") >= contrast(colour, "#000000") else "#000000"


# -- what a page shows ------------------------------------------------------


@dataclass(frozen=True)
class Brand:
    name: str
    logo_url: str
    colour: str
    text_colour: str
    postal_address: str
    chosen: bool  # someone set a colour (else Postroom's own is used)
    updated_at: datetime | None

    @property
    def logo_origin(self) -> str:
        """`https://host[:port]` of the logo, for the pages' img-src; empty without one."""
        if not self.logo_url:
            return ""
        parts = urlsplit(self.logo_url)
        port = f":{parts.port}" if parts.port and parts.port != 443 else ""
        return f"https://{parts.hostname}{port}"

    @property
    def stamp(self) -> str:
        """Changes whenever the brand does (for ETags)."""
        return self.updated_at.isoformat() if self.updated_at else "-"


def _still_valid(clean: Any, value: str) -> str:
    """A stored value checked again: it goes into CSS and a response header, where
    escaping does not help, so one written past the checks (by hand, in the database)
    is dropped rather than trusted."""
    try:
        return clean(value)
    except InvalidInput:
        return ""


def brand_for(mailing_list: MailingList | None = None) -> Brand:
    """The list's own values where it has them, the installation's for the rest."""
    wanted = Q(mailing_list__isnull=True)
    if mailing_list is not None:
        wanted |= Q(mailing_list=mailing_list)
    rows = {row.mailing_list_id: row for row in Branding.objects.filter(wanted)}
    base = rows.get(None)
    own = rows.get(mailing_list.pk) if mailing_list is not None else None

    def pick(name: str) -> str:
        for row in (own, base):
            if row is not None and getattr(row, name):
                return getattr(row, name)
        return ""

    colour, logo_url = (
        _still_valid(clean_colour, pick("colour")),
        _still_valid(clean_logo_url, pick("logo_url")),
    )
    stamps = [row.updated_at for row in (own, base) if row is not None and row.updated_at]
    return Brand(
        name=pick("name"),
        logo_url=logo_url,
        colour=colour or DEFAULT_COLOUR,
        text_colour=text_on(colour or DEFAULT_COLOUR),
        postal_address=pick("postal_address"),
        chosen=bool(colour),
        updated_at=max(stamps) if stamps else None,
    )
