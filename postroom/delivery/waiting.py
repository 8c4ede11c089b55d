"""Sender health: a sender that cannot be reached makes its campaigns wait, never pause.

Refused, timed out, 421 at connect, TLS or AUTH failing, MAIL refused: the SMTP
client calls these the sender's fault (`SendResult.sender_error`). Its rows go
back to pending without spending an attempt, and the sender *waits*:

- `failing_since` is when the outage began ("waiting since"; the alerts read it);
- `backoff_until` is the next try: 1, 2, 4 … s after each failed try, capped
  at 30 s (`POSTROOM_SENDER_BACKOFF_SECONDS`, `…_MAX_SECONDS`), so an outage
  of hours ends within half a minute of the server's return;
- when it is due, exactly one worker wins the try (a conditional UPDATE on
  `probing_until`, a short lease it renews while the probe is on the wire) and
  sends a small batch; the others keep away, so N workers never hammer a
  server that is down. A probe that gets a message through ends the outage
  and wakes every worker (the caller's `scheduler.notify()`).

Everything lives in the Sender row, so every worker on every machine shares it.
The back-off is read in one place, `blocked` (the scheduler, every grant); what
it saw, and this process's own failures, tell `succeeded` whether a message
that got through ends a wait, without a statement per part.
"""

import time
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from postroom.delivery.models import Sender

# How long a probe's claim lasts without renewal: a worker killed while probing
# holds the others back this long at most. Renewed every second while it sends.
PROBE_LEASE = 10.0
# How many recipients a probe sends: enough to see the server take mail, few
# enough that trying a dead server costs nothing.
PROBE_SIZE = 10


# Per process: senders seen waiting by the last `blocked` read or by a failure here.
_seen_waiting: set[int] = set()


def backoff(failures: int) -> timedelta:
    """1, 2, 4 … seconds between tries, capped (30 s by default)."""
    base = float(getattr(settings, "POSTROOM_SENDER_BACKOFF_SECONDS", 1.0))
    cap = float(getattr(settings, "POSTROOM_SENDER_BACKOFF_MAX_SECONDS", 30.0))
    return timedelta(seconds=min(base * 2 ** max(failures - 1, 0), cap))


def failed(sender_id: int, error: str, probe: bool) -> bool:
    """A part could not reach the sender; True when this began an outage.

    Only the first failure and a failed probe move the back-off: parts that
    were already on the wire when the server went away fail too, and must not
    push the next try further out. Nor may a probe's own later parts: a probe
    of 10 on 4 connections fails up to 4 times, and counting each doubled the
    back-off 4 times (a 3 s outage then waited 29 s for its next try, measured
    with bench/faults.py). The first failure drops the probe's claim
    (`probing_until`), so only it counts.
    """
    _seen_waiting.add(sender_id)
    now = timezone.now()
    with transaction.atomic():
        sender = Sender.objects.select_for_update().filter(pk=sender_id).first()
        if sender is None:
            return False
        began = sender.failing_since is None
        changes: dict = {"last_error": error[:1000]}
        if began or (probe and sender.probing_until is not None):
            failures = sender.consecutive_failures + 1
            changes.update(
                consecutive_failures=failures,
                failing_since=sender.failing_since or now,
                backoff_until=now + backoff(failures),
                probing_until=None,
            )
        Sender.objects.filter(pk=sender_id).update(**changes)
    return began


def succeeded(sender_id: int, probe: bool) -> bool:
    """A part got messages through: end the sender's wait if there may be one (a probe,
    or a wait seen here). True when this ended an outage (wake the workers)."""
    if not probe and sender_id not in _seen_waiting:
        return False
    _seen_waiting.discard(sender_id)
    return recovered(sender_id)


def recovered(sender_id: int) -> bool:
    """A message got through: the outage is over. True when there was one (wake the workers)."""
    return bool(
        Sender.objects.filter(pk=sender_id)
        .filter(Q(failing_since__isnull=False) | Q(consecutive_failures__gt=0))
        .update(consecutive_failures=0, failing_since=None, backoff_until=None, probing_until=None)
    )


def blocked(sender_ids: list[int], now: float) -> dict[int, tuple[float, bool]]:
    """Senders that are waiting: id → (when to look again, whether a probe is due now)."""
    if not sender_ids:
        return {}
    rows = Sender.objects.filter(id__in=sender_ids, failing_since__isnull=False).values_list(
        "id", "backoff_until", "probing_until"
    )
    waiting = {}
    _seen_waiting.difference_update(sender_ids)
    for sender_id, until, probing in rows:
        _seen_waiting.add(sender_id)
        next_try = until.timestamp() if until else now
        if probing is not None and probing.timestamp() > now:
            waiting[sender_id] = (probing.timestamp(), False)  # another worker is trying
        else:
            waiting[sender_id] = (max(next_try, now), next_try <= now)
    return waiting


def claim_probe(sender_id: int, now: float) -> bool:
    """Win the right to try a waiting sender now; only one worker wins."""
    at = datetime.fromtimestamp(now, tz=UTC)
    return bool(
        Sender.objects.filter(pk=sender_id, failing_since__isnull=False)
        .filter(Q(backoff_until__isnull=True) | Q(backoff_until__lte=at))
        .filter(Q(probing_until__isnull=True) | Q(probing_until__lte=at))
        .update(probing_until=at + timedelta(seconds=PROBE_LEASE))
    )


def renew_probe(sender_id: int) -> None:
    """Keep the probe's claim while its part is on the wire (a slow server, a timeout)."""
    until = timezone.now() + timedelta(seconds=PROBE_LEASE)
    Sender.objects.filter(pk=sender_id, probing_until__isnull=False).update(probing_until=until)


def drop_probe(sender_id: int) -> None:
    """Give the try back unused (no slot in the rate window, nothing to send)."""
    Sender.objects.filter(pk=sender_id).update(probing_until=None)


def state(sender: Sender | None, now: float | None = None) -> dict | None:
    """What to show about a sender that cannot be reached, or None while it is fine.

    {"sender", "since", "next_try", "error"}: times in ISO 8601; next_try is
    None while a worker is trying it right now.
    """
    if sender is None or sender.failing_since is None:
        return None
    now = time.time() if now is None else now
    probing = sender.probing_until is not None and sender.probing_until.timestamp() > now
    next_try = sender.backoff_until
    if probing or next_try is None or next_try.timestamp() <= now:
        next_try = None
    return {
        "sender": sender.name,
        "since": sender.failing_since.isoformat(),
        "next_try": next_try.isoformat() if next_try else None,
        "error": sender.last_error,
    }


def waiting_text(info: dict, now: float | None = None) -> str:
    """ "waiting for sender 'relay' since 14:02 (3 min ago), next try in 12 s — refused",
    in the active language (the admin's; English for the CLI)."""
    now = time.time() if now is None else now
    since = datetime.fromisoformat(info["since"])
    local = timezone.localtime(since)
    values = {
        "sender": repr(info["sender"]),
        "clock": f"{local:%H:%M}",
        "ago": ago(duration(max(0.0, now - since.timestamp()), days=False)),
    }
    text = gettext("waiting for sender %(sender)s since %(clock)s (%(ago)s)") % values
    if info["next_try"]:
        left = max(1, round(datetime.fromisoformat(info["next_try"]).timestamp() - now))
        text += gettext(", next try in %(seconds)s s") % {"seconds": left}
    else:
        text += gettext(", trying now")
    if info["error"]:
        text += f" — {info['error']}"
    return text


def duration(seconds: float, days: bool = True) -> str:
    """ "3 s", "12 min", "2 h 5 min", "4 days" (hours past a day when `days` is False)."""
    if seconds < 60:
        return gettext("%(seconds)s s") % {"seconds": int(seconds)}
    if seconds < 3600:
        return gettext("%(minutes)s min") % {"minutes": int(seconds // 60)}
    if seconds < 86400 or not days:
        hours, minutes = int(seconds // 3600), int(seconds % 3600 // 60)
        if minutes:
            return gettext("%(hours)s h %(minutes)s min") % {"hours": hours, "minutes": minutes}
        return gettext("%(hours)s h") % {"hours": hours}
    count = int(seconds // 86400)
    return ngettext("%(count)s day", "%(count)s days", count) % {"count": count}


def ago(amount: str) -> str:
    """ "3 min ago": a duration from duration(), in the past."""
    return gettext("%(amount)s ago") % {"amount": amount}
