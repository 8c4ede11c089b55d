"""Where a sender's capacity goes: its windows and their use, who shares it, what to fix.

`sender_report` feeds `postroom sender status` and the senders page;
`explain_settings` turns limits and connection counts into plain words and
warns about settings that cannot be reached; `sent_by_sender` says where a
campaign's mail went (the campaign page, for one with a pool of senders).
"""

import time
from datetime import UTC, datetime

from django.db.models import Count
from django.utils.translation import gettext

from postroom.campaigns import pools
from postroom.campaigns.models import Campaign
from postroom.delivery import eta, ratelimit
from postroom.delivery.models import Delivery, Sender, SendSlot

# A rough figure for a warning, not a promise: one SMTP connection to a remote
# provider carries about this many messages a second (round trips of ~100 ms).
MESSAGES_PER_CONNECTION_SECOND = 10


def _iso(epoch: float | None) -> str | None:
    return datetime.fromtimestamp(epoch, tz=UTC).isoformat() if epoch is not None else None


def window_use(sender_id: int, windows, now: float) -> list[dict]:
    """For each window: messages in the last `seconds`, and slots already reserved ahead."""
    slots = SendSlot.objects.filter(sender_id=sender_id)
    ahead = slots.filter(at__gt=now).count()
    rows = []
    for count, seconds in windows:
        used = slots.filter(at__gt=now - seconds, at__lte=now).count()
        rows.append(
            {
                "rate": ratelimit.format_rate(count, seconds),
                "count": count,
                "seconds": seconds,
                "used": used,
                "reserved_ahead": ahead,
                "available": max(0, count - used - ahead),
                "percent_used": round(100 * min(used, count) / count),
            }
        )
    return rows


def explain_settings(windows, max_connections: int) -> tuple[list[str], list[str]]:
    """(plain-words explanations, warnings) for a sender's limits and connections."""
    notes: list[str] = []
    warnings: list[str] = []
    if not windows:
        notes.append(
            gettext(
                "No rate limit: Postroom sends as fast as the server accepts, "
                "over up to %(connections)s connection(s) at once."
            )
            % {"connections": max_connections}
        )
    else:
        gap = ratelimit.pacing_gap(windows)
        per_hour = ratelimit.sustained_rate(windows) * 3600
        notes.append(
            gettext(
                "Messages are spread evenly: one every %(gap)s "
                "(about %(per_hour)s an hour), never a burst."
            )
            % {"gap": _duration(gap), "per_hour": format(per_hour, ",.0f")}
        )
        tight = max(windows, key=lambda w: w[1] / w[0])
        for count, seconds in windows:
            if (count, seconds) != tight and seconds / count < tight[1] / tight[0]:
                warnings.append(
                    gettext(
                        "The %(tight)s limit sets the pace, so the "
                        "%(other)s limit is never reached."
                    )
                    % {
                        "tight": ratelimit.format_rate(*tight),
                        "other": ratelimit.format_rate(count, seconds),
                    }
                )
        per_second = 1 / gap
        reachable = max_connections * MESSAGES_PER_CONNECTION_SECOND  # per worker
        if per_second > reachable:
            warnings.append(
                gettext(
                    "%(per_second)s messages a second is more than %(connections)s "
                    "connection(s) usually carry (about %(reachable)s a second to a remote "
                    "server); raise the maximum connections if the provider allows it."
                )
                % {
                    "per_second": format(per_second, ",.0f"),
                    "connections": max_connections,
                    "reachable": format(reachable, ","),
                }
            )
        if per_second < 1 and max_connections > 1:
            notes.append(gettext("At this pace one connection is plenty; the others stay closed."))
    notes.append(
        gettext(
            "Maximum connections: how many SMTP connections each worker keeps open to this "
            "server (two workers: up to twice that). More is faster only if the provider "
            "allows that many; the rate limits hold whatever the number."
        )
    )
    return notes, warnings


def _duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s".replace(".0 s", " s")
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def sender_report(sender, now: float | None = None) -> dict:
    """Limits with their current use, the campaigns sharing the sender, the next free slot.

    A campaign with a pool of senders is listed on each of them with its weight
    there, the part of its backlog this sender carries and what it sent through it.
    """
    now = time.time() if now is None else now
    windows = ratelimit.windows_for(sender.pk)
    backlogs = eta.backlogs_on(sender.pk)
    with_work = {cid: w for cid, (b, w) in backlogs.items() if b > 0}
    total_weight = sum(with_work.values())
    rate = ratelimit.sustained_rate(windows)
    finish = eta.finish_in(backlogs, rate) if windows else {}
    free_at = ratelimit.next_free_at(sender.pk, now) if windows else None
    start = max(now, free_at or now)
    rows = Campaign.objects.filter(id__in=backlogs).values_list("id", "name", "sender_id")
    names = {cid: name for cid, name, _ in rows}
    members = pools.weights((cid, primary) for cid, _, primary in rows)
    sent_here = dict(
        Delivery.objects.filter(
            campaign_id__in=[c for c in members if len(members[c]) > 1],
            sender_id=sender.pk,
            state=Delivery.State.SENT,
        )
        .values("campaign_id")
        .annotate(n=Count("id"))
        .values_list("campaign_id", "n")
    )
    campaigns = [
        {
            "id": cid,
            "name": names.get(cid, ""),
            "priority": weight,
            "backlog": backlog,
            "share": round(weight / total_weight, 3) if backlog and total_weight else 0.0,
            "eta": _iso(start + finish[cid]) if cid in finish and backlog else None,
            # None: the campaign sends through this sender alone.
            "pool": _pool_view(members.get(cid, {}), sender.pk, sent_here.get(cid, 0)),
        }
        for cid, (backlog, weight) in sorted(backlogs.items())
    ]
    notes, warnings = explain_settings(windows, sender.max_connections)
    if sender.is_waiting and any(c["pool"] for c in campaigns):
        notes.insert(
            0,
            gettext(
                "This sender cannot be reached: the campaigns that also use other senders"
                " send its share through them until it answers again."
            ),
        )
    return {
        "limits": window_use(sender.pk, windows, now) if windows else [],
        "messages_per_hour": None if not windows else round(rate * 3600, 1),
        "next_free_slot": _iso(free_at) if free_at and free_at > now else None,
        "campaigns": campaigns,
        "notes": notes,
        "warnings": warnings,
    }


def _pool_view(pool: dict[int | None, int], sender_id: int, sent_here: int) -> dict | None:
    """This sender's place in a campaign's pool: its weight, its part now, what it sent."""
    if len(pool) < 2:
        return None
    part = eta.pool_parts(pool).get(sender_id, 0.0)
    return {
        "weight": pool.get(sender_id, 0),
        "senders": len(pool),
        "part": round(part, 3),
        "sent_here": sent_here,
    }


def sent_by_sender(campaign: Campaign) -> list[dict]:
    """Where a campaign's mail went: [{"sender", "weight", "sent"}], its pool first.

    One GROUP BY over the campaign's sent rows; a sender outside the pool (it
    was changed before a restart, or a row recovered after a crash) is listed too.
    """
    counts = dict(
        Delivery.objects.filter(campaign=campaign, state=Delivery.State.SENT)
        .values("sender_id")
        .annotate(n=Count("id"))
        .values_list("sender_id", "n")
    )
    rows = [
        {"sender": sender.name, "weight": weight, "sent": counts.pop(sender.pk, 0)}
        for sender, weight in pools.members(campaign)
    ]
    others = dict(Sender.objects.filter(id__in=[s for s in counts if s]).values_list("id", "name"))
    for sender_id, n in counts.items():
        name = others.get(sender_id, "deleted sender") if sender_id else "local outbox"
        rows.append({"sender": name, "weight": 0, "sent": n})
    return rows
