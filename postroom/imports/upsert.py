"""Write one batch of clean contacts to the audience, set-based, and classify each one.

A batch costs a handful of queries whatever its size: one lookup of existing
subscribers, one of suppressed hashes, one of existing subscriptions, then
multi-row INSERT/UPDATEs. Per-row ORM objects would cost more than everything
else in a million-row import together. The semantics are the audience's own:
consent source "import", suppressed or blocklisted addresses never subscribed,
`email_hash` always set, existing subscriptions (even unsubscribed) left as they are
unless the import carries the user's explicit, logged override.

Rows whose old tool says they left (unsubscribed, bounced, blocklisted, complained)
are written by states.py; pending ones wait on the double opt-in lists.
"""

import json
from typing import Any

from django.db import connection
from django.utils import timezone

from postroom.audience.bulk import blocklist
from postroom.audience.models import MailingList, Subscriber, Subscription, Suppression
from postroom.audience.services import initial_status
from postroom.imports import states, texts, tools
from postroom.imports.rows import Contact
from postroom.imports.sql import (
    SUBSCRIPTION_COLUMNS,
    NewRows,
    any_of,
    array,
    exact_new_rows,
    existing,
    holes,
    insert_subscribers,
    json_hole,
    new_ids,
    select_in,
    stage,
    suppression_reasons,
    table,
    unstage,
)
from postroom.imports.states import Outcome

SUPPRESSED_REASON = texts.SUPPRESSED
BLOCKLISTED_REASON = texts.BLOCKLISTED

__all__ = ["BLOCKLISTED_REASON", "SUPPRESSED_REASON", "Outcome", "Upserter"]


class Upserter:
    """Applies batches for one import's mode, lists and consent; `dry_run` only classifies.

    `resubscribe` is the user's explicit override: people who unsubscribed (never
    those who bounced, complained or were blocklisted) are subscribed again.
    """

    def __init__(
        self,
        mode: str,
        lists: list[MailingList],
        confirmed: bool,
        dry_run: bool = False,
        resubscribe: bool = False,
    ) -> None:
        self.mode = mode
        self.lists = lists
        self.joining = {ml.id: initial_status(ml, confirmed) for ml in lists}
        # Pending people wait for a confirmation, which only a double opt-in list asks for.
        self.waiting: dict[int, str] = {
            ml.id: Subscription.Status.UNCONFIRMED
            for ml in lists
            if ml.optin == MailingList.Optin.DOUBLE
        }
        self.statuses = self.joining
        self.dry_run = dry_run
        self.resubscribe = resubscribe
        self.tags = states.TagCache()
        self.insert_first = True  # see _subscribe

    def apply(self, contacts: list[Contact]) -> Outcome:
        if self.mode == "blocklist":
            return self._blocklist(contacts)
        if not any(c.status for c in contacts):
            return self._subscribe(contacts, self.joining)  # a plain file: one pass
        joining = [c for c in contacts if c.status in ("", tools.SUBSCRIBED)]
        pending = [c for c in contacts if c.status == tools.PENDING]
        leaving = [c for c in contacts if c.left]
        outcome = self._subscribe(joining, self.joining)
        if pending:
            outcome.add(self._pending(pending))
        if leaving:
            outcome.add(self.leave(leaving))
        return outcome

    def leave(self, contacts: list[Contact]) -> Outcome:
        """Record that these people left, whatever the mode: an import can always make
        someone less mailable, never more."""
        return states.leave(contacts, self.lists, self.dry_run, self.tags)

    def _pending(self, contacts: list[Contact]) -> Outcome:
        if self.waiting or not self.lists:
            return self._subscribe(contacts, self.waiting, state=tools.PENDING)
        outcome = Outcome()
        outcome.rejections = [c.rejected(states.PENDING_REASON) for c in contacts]
        return outcome

    def _subscribe(
        self, contacts: list[Contact], statuses: dict[int, str], state: str = tools.SUBSCRIBED
    ) -> Outcome:
        outcome = Outcome()
        if not contacts:
            return outcome
        self.statuses = statuses
        hashes = {c.email: c.email_hash for c in contacts}
        first = self.insert_first and not self.dry_run and exact_new_rows()
        staged = first and stage(contacts)
        reasons = suppression_reasons(hashes.values(), staged)
        now = timezone.now()
        inserted: NewRows | None = None
        if first:
            # Most rows of a first import are new: insert them first and look up only the
            # addresses that were there already (a lookup of every address measured a fifth
            # of a million-row import on PostgreSQL).
            candidates: list[Contact] = []
            refused: list[Contact] = []
            for contact in contacts:
                may = self._may_subscribe(reasons.get(contact.email_hash))
                (candidates if may else refused).append(contact)
            if staged:
                unstage([c.email for c in refused])
            inserted = insert_subscribers(candidates, now, staged)
            there = [] if inserted.added == len(candidates) else candidates
            fresh = new_ids(inserted) if there else set()
            rows = existing([c.email for c in there])
            found = {row[0]: row for row in rows if row[1] not in fresh}
        else:
            found = {row[0]: row for row in existing([c.email for c in contacts])}
        # A file of people mostly here already (a re-import) is looked up first.
        self.insert_first = len(found) * 2 <= len(contacts)
        current = self._subscriptions([row[1] for row in found.values()])

        new: list[Contact] = []
        changed: list[tuple[int, str, dict]] = []
        to_subscribe: list[str] = []
        written: list[Contact] = []  # new or updated: their tags and consent are recorded
        lifted: list[str] = []
        undecided = contacts
        if not found and not reasons:
            # Nobody here yet, nobody suppressed (most batches of a first import): every
            # row is new, nothing to decide row by row.
            new, written, undecided = list(contacts), list(contacts), []
            outcome.created = len(contacts)
        for contact in undecided:
            row = found.get(contact.email)
            reason = reasons.get(hashes[contact.email])
            if reason is not None:
                if not self._may_subscribe(reason):
                    outcome.rejections.append(contact.rejected(SUPPRESSED_REASON))
                    continue
                lifted.append(hashes[contact.email])
            if row is None:
                new.append(contact)
                written.append(contact)
                outcome.created += 1
                outcome.resubscribed += reason is not None
                continue
            _, subscriber_id, name, attributes, status = row
            if status == Subscriber.Status.BLOCKLISTED:
                outcome.rejections.append(contact.rejected(BLOCKLISTED_REASON))
                continue
            if self.mode == "skip-existing" and reason is None:
                outcome.unchanged += 1
                continue
            mine = current.get(subscriber_id, {})
            back = reason is not None or (
                self.resubscribe
                and any(mine.get(i) == Subscription.Status.UNSUBSCRIBED for i in statuses)
            )
            touched = self._needs_subscription(mine) or back
            if self.mode == "update":
                new_name = contact.name or name
                merged = {**attributes, **json.loads(contact.attributes_json)}
                if new_name != name or merged != attributes:
                    changed.append((subscriber_id, new_name, merged))
                    touched = True
            if touched:
                to_subscribe.append(contact.email)
                written.append(contact)
                outcome.updated += 1
                outcome.resubscribed += back
            else:
                outcome.unchanged += 1
        outcome.states[state] += len(contacts) - len(outcome.rejections)
        if not self.dry_run:
            if lifted:
                # The override: the user said these people asked to come back.
                Suppression.objects.filter(
                    email_hash__in=lifted, reason=Suppression.Reason.UNSUBSCRIBED
                ).delete()
            if inserted is None:
                inserted = insert_subscribers(new, now)
            self._update(changed, now)
            self._add_subscriptions(to_subscribe, inserted, now)
            states.record_consent(written, statuses, now, promote=state == tools.SUBSCRIBED)
            if self.mode != "skip-existing":
                self.tags.add(written)
            else:
                self.tags.add(new)
        return outcome

    def _may_subscribe(self, reason: str | None) -> bool:
        """Not suppressed, or unsubscribed and brought back by the user's override."""
        return reason is None or (self.resubscribe and reason == Suppression.Reason.UNSUBSCRIBED)

    def _subscriptions(self, subscriber_ids: list[int]) -> dict[int, dict[int, str]]:
        result: dict[int, dict[int, str]] = {}
        if not subscriber_ids or not self.statuses:
            return result
        sql = (
            f"SELECT subscriber_id, mailing_list_id, status FROM {table(Subscription)} "
            f"WHERE mailing_list_id IN ({holes(self.statuses)}) AND {any_of('subscriber_id')}"
        )
        for subscriber_id, list_id, status in select_in(sql, subscriber_ids, list(self.statuses)):
            result.setdefault(subscriber_id, {})[list_id] = status
        return result

    def _needs_subscription(self, current: dict[int, str]) -> bool:
        """A list is missing, or an unconfirmed subscription is now given as confirmed."""
        for list_id, status in self.statuses.items():
            have = current.get(list_id)
            if have is None:
                return True
            if have == Subscription.Status.UNCONFIRMED and status == Subscription.Status.CONFIRMED:
                return True
        return False

    def _update(self, changed: list[tuple[int, str, dict]], now) -> None:
        if not changed:
            return
        meta = Subscriber._meta
        quote = connection.ops.quote_name
        sql = (
            f"UPDATE {quote(meta.db_table)} SET {quote('name')} = %s, "
            f"{quote('attributes')} = {json_hole()}, {quote('updated_at')} = %s "
            f"WHERE {quote('id')} = %s"
        )
        stamp = connection.ops.adapt_datetimefield_value(now)
        params = [(name, json.dumps(attrs), stamp, pk) for pk, name, attrs in changed]
        with connection.cursor() as cursor:
            cursor.executemany(sql, params)

    def _add_subscriptions(self, emails: list[str], inserted: NewRows, now) -> None:
        """Subscribe the new subscribers (`inserted`) and the existing ones among `emails`,
        set-based; ON CONFLICT keeps every existing subscription (even an unsubscribed
        one) as it is, but for the override."""
        if not self.statuses:
            return
        stamp = connection.ops.adapt_datetimefield_value(now)
        new_rows, new_params, _ = inserted
        subscribers = f"FROM {table(Subscriber)} WHERE status = %s AND {any_of('email')}"

        def insert(source: str, may_conflict: bool = True) -> str:
            return (
                f"INSERT INTO {table(Subscription)} ({', '.join(SUBSCRIPTION_COLUMNS)}) "
                f"SELECT id, {holes(SUBSCRIPTION_COLUMNS[1:])} {source}"
                + (" ON CONFLICT DO NOTHING" if may_conflict else "")
            )

        # Subscribers this transaction inserted have no subscription anywhere yet: no
        # ON CONFLICT for them (its speculative insertion costs PostgreSQL a fifth more).
        for_new = insert(new_rows, may_conflict=not exact_new_rows())

        targets: list[Any] = [Subscriber.Status.ACTIVE, array(emails)]
        with connection.cursor() as cursor:
            for list_id, status in self.statuses.items():
                confirmed_at = stamp if status == Subscription.Status.CONFIRMED else None
                values: list[Any] = [
                    list_id,
                    status,
                    "import",
                    stamp,
                    confirmed_at,
                    "",
                    stamp,
                    stamp,
                ]
                if new_rows:
                    cursor.execute(for_new, [*values, *new_params])
                if not emails:
                    continue
                cursor.execute(insert(subscribers), [*values, *targets])
                if self.resubscribe:
                    cursor.execute(
                        f"UPDATE {table(Subscription)} SET status = %s, consent_source = %s, "
                        "consent_at = %s, confirmed_at = %s, unsubscribed_at = NULL, "
                        "unsubscribe_source = %s, updated_at = %s WHERE mailing_list_id = %s "
                        f"AND status = %s AND subscriber_id IN (SELECT id {subscribers})",
                        [
                            status,
                            "import",
                            stamp,
                            confirmed_at,
                            "",
                            stamp,
                            list_id,
                            Subscription.Status.UNSUBSCRIBED,
                            *targets,
                        ],
                    )
                if confirmed_at:
                    # Given as confirmed now: an unconfirmed subscription becomes confirmed.
                    cursor.execute(
                        f"UPDATE {table(Subscription)} SET status = %s, confirmed_at = %s, "
                        "updated_at = %s WHERE mailing_list_id = %s AND status = %s "
                        f"AND subscriber_id IN (SELECT id {subscribers})",
                        [status, stamp, stamp, list_id, Subscription.Status.UNCONFIRMED, *targets],
                    )

    def _blocklist(self, contacts: list[Contact]) -> Outcome:
        """Created: a new suppression; updated: an existing subscriber newly blocklisted."""
        outcome = Outcome()
        hashes = {c.email: c.email_hash for c in contacts}
        suppressed = set(suppression_reasons(hashes.values()))
        found = {row[0]: row[4] for row in existing(list(hashes))}
        fresh_hashes = []
        for contact in contacts:
            status = found.get(contact.email)
            if status is not None and status != Subscriber.Status.BLOCKLISTED:
                outcome.updated += 1
            elif hashes[contact.email] not in suppressed:
                outcome.created += 1
            else:
                outcome.unchanged += 1
            if hashes[contact.email] not in suppressed:
                fresh_hashes.append(hashes[contact.email])
        outcome.states[tools.BLOCKLISTED] += len(contacts)
        if not self.dry_run:
            now = timezone.now()
            Suppression.objects.bulk_create(
                [
                    Suppression(
                        email_hash=h,
                        reason=Suppression.Reason.BLOCKLISTED,
                        source="import",
                        created_at=now,
                    )
                    for h in fresh_hashes
                ],
                ignore_conflicts=True,
            )
            ids = [row[1] for row in existing(list(found))]
            blocklist(Subscriber.objects.filter(pk__in=ids), source="import")
        return outcome
