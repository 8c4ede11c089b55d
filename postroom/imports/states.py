"""What an import writes besides subscribing: who left, their tags, their consent record.

Someone whose old tool says they unsubscribed, bounced, complained or were
blocklisted is recorded as such and is never made mailable: an import only ever
makes a person less mailable than they were. These writes are per row (each has
its own original time), which is cheap because such rows are few next to the
subscribed ones; the subscribed rows keep the set-based path of upsert.py.
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection
from django.utils import timezone

from postroom.audience.models import MailingList, Subscriber, Subscription, Suppression, Tag
from postroom.imports import texts, tools
from postroom.imports.rows import Contact, Rejection
from postroom.imports.sql import (
    any_of,
    array,
    existing,
    holes,
    insert_subscribers,
    select_in,
    stamp,
    suppression_reasons,
    table,
)

PENDING_REASON = texts.PENDING_UNCONFIRMED
_SUPPRESSION_REASONS = {
    tools.BOUNCED: Suppression.Reason.BOUNCED,
    tools.BLOCKLISTED: Suppression.Reason.BLOCKLISTED,
    tools.COMPLAINED: Suppression.Reason.COMPLAINED,
}


@dataclass
class Outcome:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    states: Counter = field(default_factory=Counter)  # people per state they were given
    resubscribed: int = 0  # people who had unsubscribed, subscribed again by the override

    def add(self, other: "Outcome") -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.rejections += other.rejections
        self.states.update(other.states)
        self.resubscribed += other.resubscribed


def _moment(iso: str, default: datetime) -> datetime:
    return datetime.fromisoformat(iso) if iso else default


def leave(
    contacts: list[Contact], lists: list[MailingList], dry_run: bool, tags: "TagCache"
) -> Outcome:
    """Unsubscribe from the lists, suppress or blocklist, keeping the original times.

    An address suppressed without a subscriber row (an erased person) stays a bare
    hash: the import does not bring their data back.
    """
    outcome = Outcome()
    found = {row[0]: row for row in existing([c.email for c in contacts])}
    reasons = suppression_reasons([c.email_hash for c in contacts])
    list_ids = [ml.id for ml in lists]
    current = _subscriptions([row[1] for row in found.values()], list_ids)
    new: list[Contact] = []
    writable: list[Contact] = []
    for contact in contacts:
        outcome.states[contact.status] += 1
        row = found.get(contact.email)
        if row is None:
            if contact.email_hash in reasons:
                outcome.unchanged += 1
                continue
            new.append(contact)
            outcome.created += 1
        elif _already(contact, row[4], current.get(row[1], {}), reasons, list_ids):
            outcome.unchanged += 1
        else:
            outcome.updated += 1
        writable.append(contact)
    if dry_run or not writable:
        return outcome
    now = timezone.now()
    insert_subscribers(new, now)
    _unsubscribe(writable, list_ids, now)
    _suppress(writable, bool(list_ids), now)
    _blocklist(writable, now)
    tags.add(new)
    return outcome


def _already(
    contact: Contact, status: str, mine: dict[int, str], reasons: dict, list_ids: list[int]
) -> bool:
    unsubscribed = all(mine.get(i) == Subscription.Status.UNSUBSCRIBED for i in list_ids)
    if contact.status == tools.UNSUBSCRIBED:
        return unsubscribed and (bool(list_ids) or contact.email_hash in reasons)
    if contact.status in (tools.BLOCKLISTED, tools.COMPLAINED):
        unsubscribed = unsubscribed and status == Subscriber.Status.BLOCKLISTED
    return unsubscribed and contact.email_hash in reasons


def _subscriptions(subscriber_ids: list[int], list_ids: list[int]) -> dict[int, dict[int, str]]:
    result: dict[int, dict[int, str]] = {}
    if not subscriber_ids or not list_ids:
        return result
    sql = (
        f"SELECT subscriber_id, mailing_list_id, status FROM {table(Subscription)} "
        f"WHERE mailing_list_id IN ({holes(list_ids)}) AND {any_of('subscriber_id')}"
    )
    for subscriber_id, list_id, status in select_in(sql, subscriber_ids, list_ids):
        result.setdefault(subscriber_id, {})[list_id] = status
    return result


def _unsubscribe(contacts: list[Contact], list_ids: list[int], now: datetime) -> None:
    """Each list's subscription unsubscribed at the original time, created if missing."""
    if not list_ids:
        return
    subscriptions = table(Subscription)
    sql = (
        f"INSERT INTO {subscriptions} (subscriber_id, mailing_list_id, status, consent_source, "
        "consent_at, consent_ip, unsubscribed_at, unsubscribe_source, created_at, updated_at) "
        f"SELECT id, %s, %s, %s, %s, %s, %s, %s, %s, %s FROM {table(Subscriber)} WHERE email = %s "
        "ON CONFLICT (subscriber_id, mailing_list_id) DO UPDATE SET status = excluded.status, "
        "unsubscribed_at = excluded.unsubscribed_at, "
        "unsubscribe_source = excluded.unsubscribe_source, updated_at = excluded.updated_at "
        f"WHERE {subscriptions}.status <> excluded.status"
    )
    moment = stamp(now)
    params: list[tuple[Any, ...]] = []
    for contact in contacts:
        left_at = _moment(contact.status_at, now)
        consent_at = stamp(_moment(contact.optin_at, left_at))
        source = f"import ({contact.status})"
        for list_id in list_ids:
            params.append(
                (
                    list_id,
                    Subscription.Status.UNSUBSCRIBED,
                    "import",
                    consent_at,
                    contact.optin_ip or None,
                    stamp(left_at),
                    source,
                    moment,
                    moment,
                    contact.email,
                )
            )
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def _suppress(contacts: list[Contact], has_lists: bool, now: datetime) -> None:
    """Bounces and complaints are about the address: suppressed everywhere. An
    unsubscribe is about a list; with no list to record it on, the address is suppressed."""
    rows = []
    for contact in contacts:
        reason = _SUPPRESSION_REASONS.get(contact.status)
        if reason is None and not has_lists:
            reason = Suppression.Reason.UNSUBSCRIBED
        if reason is not None:
            rows.append(
                Suppression(
                    email_hash=contact.email_hash,
                    reason=reason,
                    source="import",
                    created_at=_moment(contact.status_at, now),
                )
            )
    Suppression.objects.bulk_create(rows, ignore_conflicts=True)


def _blocklist(contacts: list[Contact], now: datetime) -> None:
    emails = [c.email for c in contacts if c.status in (tools.BLOCKLISTED, tools.COMPLAINED)]
    if not emails:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table(Subscriber)} SET status = %s, updated_at = %s "
            f"WHERE status <> %s AND {any_of('email')}",
            [
                Subscriber.Status.BLOCKLISTED,
                stamp(now),
                Subscriber.Status.BLOCKLISTED,
                array(emails),
            ],
        )


def record_consent(
    contacts: list[Contact], statuses: dict[int, str], now: datetime, promote: bool
) -> None:
    """The old tool's opt-in time and IP on the subscriptions this batch created, and
    its confirmation time (which makes a double opt-in subscription confirmed)."""
    rows = [c for c in contacts if c.optin_at or c.optin_ip or c.confirmed_at]
    if not rows or not statuses:
        return
    moment = stamp(now)
    list_ids = list(statuses)
    mine = (
        f"created_at = %s AND mailing_list_id IN ({holes(list_ids)}) AND subscriber_id = "
        f"(SELECT id FROM {table(Subscriber)} WHERE email = %s)"
    )
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {table(Subscription)} SET consent_at = %s, consent_ip = %s WHERE {mine}",
            [
                (
                    stamp(_moment(c.optin_at or c.confirmed_at, now)),
                    c.optin_ip or None,
                    moment,
                    *list_ids,
                    c.email,
                )
                for c in rows
            ],
        )
        confirmed = [c for c in rows if c.confirmed_at]
        if promote and confirmed:
            cursor.executemany(
                f"UPDATE {table(Subscription)} SET status = %s, confirmed_at = %s "
                f"WHERE status <> %s AND {mine}",
                [
                    (
                        Subscription.Status.CONFIRMED,
                        stamp(_moment(c.confirmed_at, now)),
                        Subscription.Status.UNSUBSCRIBED,
                        moment,
                        *list_ids,
                        c.email,
                    )
                    for c in confirmed
                ],
            )


class TagCache:
    """Tag ids by name for one import: each tag is looked up or created once."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}

    def add(self, contacts: list[Contact]) -> None:
        pairs = [(c.email, name) for c in contacts if c.tags_json for name in c.tags]
        if not pairs:
            return
        for name in {name for _, name in pairs} - self.ids.keys():
            self.ids[name] = Tag.objects.get_or_create(name=name)[0].pk
        through = Subscriber.tags.through
        with connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {table(through)} (subscriber_id, tag_id) "
                f"SELECT id, %s FROM {table(Subscriber)} WHERE email = %s ON CONFLICT DO NOTHING",
                [(self.ids[name], email) for email, name in pairs],
            )
