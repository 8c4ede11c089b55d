"""Times in the reader's own time zone, as their browser reports it.

behaviour.js stores the browser's IANA zone name (`Intl…timeZone`) in the `tz`
cookie; this middleware activates it for the request, so every `moment` a page
shows is the reader's wall clock. Without the cookie (a first visit, a script
that reads pages) the installation's TIME_ZONE applies. Nothing is stored on
the account: a person who travels sees their current zone.
"""

from collections.abc import Callable
from functools import lru_cache
from urllib.parse import unquote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

COOKIE = "tz"


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo | None:
    """The zone called `name`, or None for anything that is not one (a cookie is input)."""
    if not name or len(name) > 64 or ".." in name or name.startswith("/"):
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


class ReaderTimeZoneMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        chosen = zone(unquote(request.COOKIES.get(COOKIE, "")))  # behaviour.js encodes "/"
        if chosen is None:
            return self.get_response(request)
        timezone.activate(chosen)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
