"""What every app reads from an HTTP request in the same way."""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


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
