"""Log-in throttling: too many wrong passwords lock an account, or an address, for a while.

Failures are rows in the database, so the count holds across every web process
and machine; a locked account is refused even with the right password, which is
what makes guessing pointless. An owner can unlock at once (Users page or
`postroom users unlock NAME`).
"""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from postroom.accounts.models import LoginFailure


def _since():
    return timezone.now() - timedelta(minutes=settings.POSTROOM_LOGIN_LOCKOUT_MINUTES)


def _key(username: str) -> str:
    return username.strip().casefold()


def locked_for(username: str | None, ip: str | None) -> tuple[str, timedelta] | None:
    """What is locked ("account" or "address") and for how much longer; None when it may try.
    With no user name (a passkey names its account only once it is checked), the address."""
    recent = LoginFailure.objects.filter(at__gte=_since())
    by_name = recent.filter(username=_key(username)) if username is not None else recent.none()
    for what, rows, limit in (
        ("account", by_name, settings.POSTROOM_LOGIN_MAX_FAILURES),
        (
            "address",
            recent.filter(ip=ip) if ip else recent.none(),
            settings.POSTROOM_LOGIN_MAX_FAILURES_PER_IP,
        ),
    ):
        times = list(rows.order_by("-at").values_list("at", flat=True)[:limit])
        if len(times) >= limit:
            # Locked until the oldest of the last `limit` failures leaves the window.
            ends = times[-1] + timedelta(minutes=settings.POSTROOM_LOGIN_LOCKOUT_MINUTES)
            return what, max(ends - timezone.now(), timedelta(seconds=1))
    return None


def record_failure(username: str, ip: str | None) -> None:
    LoginFailure.objects.create(username=_key(username)[:150], ip=ip)


def forget(username: str) -> int:
    """Clear a name's failures: after a good log-in, or an owner's unlock. Returns how many."""
    deleted, _ = LoginFailure.objects.filter(username=_key(username)).delete()
    return deleted


def locked_usernames() -> list[str]:
    """Names locked right now, for the Users page."""
    limit = settings.POSTROOM_LOGIN_MAX_FAILURES
    names = LoginFailure.objects.filter(at__gte=_since()).values_list("username", flat=True)
    counts: dict[str, int] = {}
    for name in names:
        counts[name] = counts.get(name, 0) + 1
    return sorted(name for name, count in counts.items() if count >= limit)


def purge_old() -> None:
    LoginFailure.objects.filter(at__lt=_since()).delete()
