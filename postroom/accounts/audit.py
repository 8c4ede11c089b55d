"""The audit log: who changed what in Postroom, when, and from which address.

One middleware records every change made through the admin or the API (any
request that is not a read, plus downloads of personal data), named by its
route, so a new page is audited the day it is routed; the log-in receivers in
signals.py add log-ins, failed log-ins and log-outs.
"""

import csv
from collections.abc import Callable, Iterator
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from postroom.accounts.models import AuditEntry
from postroom.accounts.roles import EXPORT_ROUTES, READ_METHODS
from postroom.http import client_ip

AUDITED_READS = EXPORT_ROUTES | {"audit_csv"}


def record(
    request: HttpRequest | None,
    action: str,
    target: str = "",
    detail: str = "",
    user: AbstractBaseUser | AnonymousUser | None = None,
    username: str = "",
) -> AuditEntry:
    who = user if user is not None else getattr(request, "user", None)
    known = who if who is not None and who.is_authenticated else None
    return AuditEntry.objects.create(
        user_id=known.pk if known is not None else None,
        username=(known.get_username() if known is not None else username)[:150],
        ip=client_ip(request) if request is not None else None,
        action=action[:100],
        target=target[:300],
        detail=detail[:1000],
    )


def describe(request: HttpRequest) -> tuple[str, str]:
    """(action, target) for a request: the route's name plus what it acted on."""
    match = request.resolver_match
    name = match.url_name if match and match.url_name else "unrouted"
    if match and match.namespace:
        name = f"{match.namespace}:{name}"
    kwargs = dict(match.kwargs) if match else {}
    verb = kwargs.pop("action", None)
    action = f"{name} {verb}" if verb else name
    target = " ".join(f"{key}={value}" for key, value in sorted(kwargs.items()))
    return action, f"{request.method} {request.path}" + (f" ({target})" if target else "")


def recorded_elsewhere(request: HttpRequest) -> None:
    """This change is its own record, with who made it and when (a transactional message
    in its log): no audit entry when it succeeds; a refusal is still one. At a shop's
    rate of receipts the audit log would be that traffic, and a second write each."""
    request._postroom_recorded_elsewhere = True  # type: ignore[attr-defined]


class AuditMiddleware:
    """Records each change (and each personal-data download) by a logged-in user."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return response
        route = request.resolver_match.url_name if request.resolver_match else None
        if request.method in READ_METHODS and route not in AUDITED_READS:
            return response
        if route in ("login", "logout", "login_passkey"):
            return response  # the log-in receivers record these, with their outcome
        status = response.status_code
        if status < 400 and getattr(request, "_postroom_recorded_elsewhere", False):
            return response
        action, target = describe(request)
        if status in (401, 403):
            detail = f"refused ({status})"
        else:
            detail = f"not done ({status})" if status >= 400 else f"done ({status})"
        record(request, action, target, detail)
        return response


def purge_old() -> int:
    """Drop entries older than POSTROOM_AUDIT_KEEP_DAYS; run at each log-in."""
    cutoff = timezone.now() - timedelta(days=settings.POSTROOM_AUDIT_KEEP_DAYS)
    deleted, _ = AuditEntry.objects.filter(at__lt=cutoff).delete()
    return deleted


def filtered(username: str = "", action: str = "", since=None, until=None) -> QuerySet[AuditEntry]:
    entries = AuditEntry.objects.all()
    if username:
        entries = entries.filter(username__iexact=username.strip())
    if action:
        entries = entries.filter(action__icontains=action.strip())
    if since:
        entries = entries.filter(at__date__gte=since)
    if until:
        entries = entries.filter(at__date__lte=until)
    return entries


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_rows(entries: QuerySet[AuditEntry]) -> Iterator[str]:
    """The log as CSV lines, streamed so a year of entries never sits in memory."""
    writer = csv.writer(_Echo())
    yield writer.writerow(["time", "user", "address", "action", "target", "detail"])
    for entry in entries.iterator():
        yield writer.writerow(
            [
                entry.at.isoformat(),
                entry.username,
                entry.ip or "",
                entry.action,
                entry.target,
                entry.detail,
            ]
        )


# Commands that neither change anything nor print files of personal data, and the
# long-running processes (whose own actions are not a person's). Everything else run at a
# shell is recorded: the CLI is the operator's path and checks no role (whoever can run it
# can read the settings and the database), so the log is what tells who did it. A command
# not listed here is recorded: a new one is audited until someone says it only reads.
UNAUDITED_COMMANDS = frozenset(
    {
        "run", "serve", "worker", "check", "audit", "credentials new-key",
        "lists list", "lists snippet", "subscribers get", "subscribers list",
        "segments list", "segments count", "imports list", "campaign list", "campaign show",
        "campaign preview", "campaign status", "sender list", "sender status", "sender check",
        "bounces list", "bounces mailboxes", "webhook list", "webhook events", "webhook log",
        "token list", "users list", "tx status", "tx list", "tx templates",
    }
)  # fmt: skip
_SECRET_FLAG = ("password", "secret", "token", "key")


def cli_target(argv: list[str]) -> str:
    """The command line as typed, with the value of any secret-looking option masked."""
    shown, mask_next = [], False
    for word in argv:
        if mask_next:
            shown.append("***")
            mask_next = False
            continue
        flag, eq, _ = word.partition("=")
        secret = flag.startswith("--") and any(s in flag for s in _SECRET_FLAG)
        # --password-env and --password-stdin name a variable or take nothing: not secret.
        secret = secret and not flag.endswith(("-env", "-stdin"))
        if secret and eq:
            shown.append(f"{flag}=***")
        else:
            shown.append(word)
            mask_next = secret
    return " ".join(shown)


def record_command(command: str, argv: list[str], outcome: str, os_user: str) -> None:
    """One entry for a command run at a shell: attributed to "cli:<OS user>", no address."""
    if command in UNAUDITED_COMMANDS:
        return
    AuditEntry.objects.create(
        username=f"cli:{os_user}"[:150],
        action=f"cli {command}"[:100],
        target=cli_target(argv)[:300],
        detail=outcome[:1000],
    )
