"""What a narrowed token may reach, below what its user's role allows.

A token carries its user's role (auth.check_role, read at every call, so a
demotion applies at once) and may be narrowed further:

- scopes: `read` (no change of any kind), `subscribers` (the audience), `send`
  (campaigns and transactional mail); several areas add up, `read` applies to
  all of them; no scope at all means everything the role allows;
- lists: the token sees only these lists and their subscribers, and mails only
  them (a campaign to another list, or to a segment alone, is refused).

The user's own grant of lists (accounts.access) applies to the API as to the
UI, and a token's lists only narrow it. Nothing here can widen what the role
allows.
"""

from collections.abc import Iterable

from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext

from postroom.accounts.access import Access, access_for
from postroom.accounts.roles import READ_METHODS
from postroom.api.models import ApiToken
from postroom.audience import services
from postroom.audience.models import MailingList, Subscriber
from postroom.errors import NotAllowed

# Paths each area reaches, and the read-only paths every area may read besides.
AREAS = {
    "subscribers": ("/api/subscribers",),
    "send": ("/api/campaigns", "/api/tx", "/api/layouts", "/api/automations", "/api/media"),
}
SHARED_READS = ("/api/lists", "/api/segments", "/api/senders", "/api/layouts", "/api/media")


def token_of(request: HttpRequest) -> ApiToken | None:
    return getattr(request, "api_token", None)


def refusal(token: ApiToken, method: str, path: str) -> str | None:
    """Why the token's scopes refuse this call, or None when they allow it."""
    scopes = set(token.scopes)
    reading = method.upper() in READ_METHODS
    if "read" in scopes and not reading:
        return gettext("this token is read-only")
    areas = scopes & set(AREAS)
    if not areas:
        return None
    if any(path.startswith(prefix) for area in areas for prefix in AREAS[area]):
        return None
    if reading and path.startswith(SHARED_READS):
        return None
    *first, last = sorted(areas)
    if not first:
        return gettext("this token is for %(area)s only") % {"area": last}
    return gettext("this token is for %(areas)s and %(area)s only") % {
        "areas": ", ".join(first),
        "area": last,
    }


def access(request: HttpRequest) -> Access:
    """The user's list grant (accounts.access), narrowed by the token's lists; per request."""
    cached = getattr(request, "_postroom_access", None)
    if cached is None:
        token = token_of(request)
        token_lists = set(token.lists.values_list("pk", flat=True)) if token else set()
        cached = access_for(request.user).narrowed(token_lists or None)
        request._postroom_access = cached  # type: ignore[attr-defined]
    return cached


def list_ids(request: HttpRequest) -> frozenset[int] | None:
    """The lists the caller is narrowed to, or None when it may reach every list."""
    return access(request).list_ids


def narrowed(request: HttpRequest) -> bool:
    return access(request).restricted


def lists(request: HttpRequest, qs: QuerySet[MailingList]) -> QuerySet[MailingList]:
    return access(request).lists(qs)


def subscribers(request: HttpRequest, qs: QuerySet[Subscriber]) -> QuerySet[Subscriber]:
    """Only subscribers with a subscription (in any state) to one of the caller's lists."""
    return access(request).subscribers(qs)


def lists_to_mail(request: HttpRequest, wanted: Iterable[MailingList | str]) -> list[MailingList]:
    """The lists by name (NotFound for an unknown one), refused unless the token may use each."""
    found = services.resolve_lists(wanted)
    ids = list_ids(request)
    if ids is not None:
        for mailing_list in found:
            if mailing_list.pk not in ids:
                raise NotAllowed(
                    gettext("you may not use the list %(name)s") % {"name": repr(mailing_list.name)}
                )
    return found


def campaigns(request: HttpRequest, qs: QuerySet) -> QuerySet:
    """Only campaigns whose every list is one of the caller's (and that have a list at all)."""
    return access(request).campaigns(qs)


def check_audience(request: HttpRequest, lists: Iterable[MailingList], segment) -> None:
    """A narrowed token mails its own lists only: a segment alone could reach anyone."""
    if not narrowed(request):
        return
    chosen = list(lists)
    if not chosen:
        raise NotAllowed(gettext("a token for some lists must name the lists it mails"))
    lists_to_mail(request, chosen)
