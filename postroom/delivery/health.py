"""Whether this installation can send right now, for load balancers and uptime monitors.

`report()` is what `/health` returns: the database, each sender's state, the
workers' heartbeats and the oldest pending work, plus the reasons sending
cannot happen (empty when it can). It shows no host credentials, no
passwords and no addresses of recipients. Every query is on a small table or
one index probe per running campaign, so a monitor may call it every second.
"""

from datetime import datetime

from django.db import DatabaseError, connection
from django.utils import timezone

from postroom.campaigns.models import Campaign
from postroom.campaigns.services import due_campaigns
from postroom.delivery import waiting
from postroom.delivery.ledger import WORKER_STALE
from postroom.delivery.models import Delivery, Sender, Worker

OPEN_STATES = (Delivery.State.PENDING, Delivery.State.SENDING, Delivery.State.RETRY)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _age(value: datetime | None, now: datetime) -> float | None:
    return round((now - value).total_seconds(), 1) if value else None


def report(now: datetime | None = None) -> dict:
    """The health report; `report["reasons"]` is empty exactly when sending can happen."""
    now = now or timezone.now()
    database = {"vendor": connection.vendor, "ok": True}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        senders = _senders(now)
        workers = _workers(now)
        pending, senders_with_work = _pending(now)
    except DatabaseError as exc:
        # The driver's text may name hosts and users; the kind of error is enough here.
        database.update(ok=False, error=f"unreachable ({type(exc).__name__})")
        return {
            "ok": False,
            "reasons": ["the database cannot be reached"],
            "checked_at": now.isoformat(),
            "database": database,
        }
    reasons = _reasons(senders, workers, pending, senders_with_work)
    return {
        "ok": not reasons,
        "reasons": reasons,
        "checked_at": now.isoformat(),
        "database": database,
        "senders": list(senders.values()),
        "workers": workers,
        "pending": pending,
    }


def _senders(now: datetime) -> dict[int, dict]:
    """Each sender's state as the campaign pages show it (delivery.waiting)."""
    found = {}
    for sender in Sender.objects.order_by("name"):
        wait = waiting.state(sender, now.timestamp())
        found[sender.pk] = {
            "name": sender.name,
            "state": "waiting" if wait else "ok",
            "waiting_since": wait["since"] if wait else None,
            "next_try": wait["next_try"] if wait else None,  # None while a worker tries it
            "last_error": wait["error"] if wait else "",
        }
    return found


def _workers(now: datetime) -> list[dict]:
    return [
        {
            "id": worker.id,
            "started_at": _iso(worker.started_at),
            "last_heartbeat": _iso(worker.last_seen),
            "seconds_since_heartbeat": _age(worker.last_seen, now),
            "alive": worker.last_seen >= now - WORKER_STALE,
        }
        for worker in Worker.objects.order_by("started_at")
    ]


def _pending(now: datetime) -> tuple[dict, set[int | None]]:
    """The oldest open ledger row of a running campaign, and scheduled campaigns now due;
    and the senders (None: the outbox) that running campaigns with work wait on.

    A row waits since the start unless it was put back later (`updated_at`).
    The first row by id in each open state is one probe of the claim index;
    taking the minimum over all rows would scan every pending row.
    """
    campaigns = 0
    senders: set[int | None] = set()
    oldest: tuple[datetime, int] | None = None
    for campaign_id, started_at, sender_id in Campaign.objects.filter(
        status=Campaign.Status.RUNNING
    ).values_list("id", "started_at", "sender_id"):
        since = None
        for state in OPEN_STATES:
            row = (
                Delivery.objects.filter(campaign_id=campaign_id, state=state)
                .order_by("id")
                .values_list("updated_at", flat=True)[:1]
            )
            if row:
                at = row[0] or started_at or now
                since = at if since is None else min(since, at)
        if since is None:
            continue
        campaigns += 1
        senders.add(sender_id)
        if oldest is None or since < oldest[0]:
            oldest = (since, campaign_id)
    due = due_campaigns(now)
    first_due = due.values_list("send_at", flat=True).first()
    summary = {
        "running_campaigns_with_work": campaigns,
        "oldest_open_row": {
            "campaign_id": oldest[1],
            "since": _iso(oldest[0]),
            "age_seconds": _age(oldest[0], now),
        }
        if oldest
        else None,
        "due_scheduled_campaigns": due.count() if first_due else 0,
        "oldest_due_at": _iso(first_due),
    }
    return summary, senders


def _reasons(
    senders: dict[int, dict], workers: list[dict], pending: dict, with_work: set[int | None]
) -> list[str]:
    reasons = []
    has_work = pending["running_campaigns_with_work"] or pending["due_scheduled_campaigns"]
    if has_work and not any(w["alive"] for w in workers):
        reasons.append("no live worker while there is work to send: start `postroom worker`")
    # The outbox (no sender) never waits; a sender deleted meanwhile counts as not waiting.
    if with_work and all(
        s is not None and senders.get(s, {}).get("state") == "waiting" for s in with_work
    ):
        names = ", ".join(sorted(senders[s]["name"] for s in with_work if s is not None))
        reasons.append(f"every sender with pending work is waiting (unreachable): {names}")
    return reasons
