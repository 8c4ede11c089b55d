"""What a narrowed token may reach, below what its user's role allows.

A token carries its user's role (auth.check_role, read at every call, so a
demotion applies at once) and may be narrowed further:

- scopes: `read` (no change of any kind), `subscribers` (the audience), `send`
  (campaigns and transactional mail); several areas add up, `read` applies to
  all of them; no scope at all means everything the role allows;
- lists: the token sees only these lists and their subscribers, and mails only
  them (a campaign to another list, or to a segment alone, is refused).

A UI session is never narrowed. Nothing here can widen what the role allows.
"""

from collections.abc import Iterable

from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest

from postroom.accounts.roles import READ_METHODS
from postroom.api.models import ApiToken
from postroom.audience import services
from postroom.audience.models import MailingList, Subscriber, Subscription
from postroom.errors import NotAllowed

# Paths each area reaches, and the read-only paths every area may read besides.
AREAS = {
    "subscribers": ("/api/subscribers",),
    "send": ("/api/campaigns", "/api/tx", "/api/layouts"),
}
SHARED_READS = ("/api/lists", "/api/segments", "/api/senders", "/api/layouts")


def token_of(request: HttpRequest) -> ApiToken | None:
    return getattr(request, "api_token", None)


def refusal(token: ApiToken, method: str, path: str) -> str | None:
    """Why the token's scopes refuse this call, or None when they allow it."""
    scopes = set(token.scopes)
    reading = method.upper() in READ_METHODS
    if "read" in scopes and not reading:
        return "this token is read-only"
    areas = scopes & set(AREAS)
    if not areas:
        return None
    if any(path.startswith(prefix) for area in areas for prefix in AREAS[area]):
        return None
    if reading and path.startswith(SHARED_READS):
        return None
    return f"this token is for {' and '.join(sorted(areas))} only"


def list_ids(request: HttpRequest) -> set[int] | None:
    """The lists a token is narrowed to, or None when it is not."""
    token = token_of(request)
    if token is None:
        return None
    if not hasattr(token, "_list_ids"):
        token._list_ids = set(token.lists.values_list("pk", flat=True))  # type: ignore[attr-defined]
    return token._list_ids or None  # type: ignore[attr-defined]


def narrowed(request: HttpRequest) -> bool:
    return list_ids(request) is not None


def lists(request: HttpRequest, qs: QuerySet[MailingList]) -> QuerySet[MailingList]:
    ids = list_ids(request)
    return qs if ids is None else qs.filter(pk__in=ids)


def subscribers(request: HttpRequest, qs: QuerySet[Subscriber]) -> QuerySet[Subscriber]:
    """Only subscribers with a subscription (in any state) to one of the token's lists."""
    ids = list_ids(request)
    if ids is None:
        return qs
    on_list = Subscription.objects.filter(subscriber=OuterRef("pk"), mailing_list__in=ids)
    return qs.filter(Exists(on_list))


def lists_to_mail(request: HttpRequest, wanted: Iterable[MailingList | str]) -> list[MailingList]:
    """The lists by name (NotFound for an unknown one), refused unless the token may use each."""
    found = services.resolve_lists(wanted)
    ids = list_ids(request)
    if ids is not None:
        for mailing_list in found:
            if mailing_list.pk not in ids:
                raise NotAllowed(f"this token may not use the list {mailing_list.name!r}")
    return found


def campaigns(request: HttpRequest, qs: QuerySet) -> QuerySet:
    """Only campaigns whose every list is one of the token's (and that have a list at all)."""
    ids = list_ids(request)
    if ids is None:
        return qs
    return qs.filter(lists__isnull=False).exclude(lists__in=MailingList.objects.exclude(pk__in=ids))


def check_audience(request: HttpRequest, lists: Iterable[MailingList], segment) -> None:
    """A narrowed token mails its own lists only: a segment alone could reach anyone."""
    if not narrowed(request):
        return
    chosen = list(lists)
    if not chosen:
        raise NotAllowed("a token for some lists must name the lists it mails")
    lists_to_mail(request, chosen)
