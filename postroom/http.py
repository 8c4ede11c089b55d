"""What every app reads from an HTTP request in the same way."""

import ipaddress
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.utils.translation import gettext


def nul_refusal() -> str:
    """Why a request holding U+0000 is refused, in the reader's language."""
    return gettext("text in the request may not contain NUL characters (\\u0000)")


def holds_nul(value: Any) -> bool:
    """Whether any text in a decoded value (dict keys too) holds U+0000, which
    PostgreSQL can neither store nor compare."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(holds_nul(k) or holds_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(holds_nul(v) for v in value)
    return False


class RefuseNulMiddleware:
    """A NUL in a page's query or form is a 400 that says so, before any view runs (or
    it would be a 500 on PostgreSQL). The API refuses it in its own parser and error
    shape, so its paths pass through here untouched."""

    FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")
    KEEP_BODY_BYTES = 1024 * 1024

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith("/api/") and self._holds_nul(request):
            return HttpResponseBadRequest(
                gettext("Bad request: %(reason)s.") % {"reason": nul_refusal()} + "\n",
                content_type="text/plain; charset=utf-8",
            )
        return self.get_response(request)

    def _holds_nul(self, request: HttpRequest) -> bool:
        if "\x00" in request.path or holds_nul(list(request.GET.lists())):
            return True
        kind = request.content_type or ""
        if request.method != "POST" or not kind.startswith(self.FORMS):
            return False
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        if kind.startswith(self.FORMS[0]) or length <= self.KEEP_BODY_BYTES:
            # Read (and kept) first, so a view that reads the raw body still can; a big
            # multipart body is left to stream (an upload can be far larger than memory).
            request.body  # noqa: B018
        names = [f.name for files in request.FILES.lists() for f in files[1]]
        return holds_nul(list(request.POST.lists())) or holds_nul(names)


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
