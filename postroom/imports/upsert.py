"""Write one batch of clean contacts to the audience, set-based, and classify each one.

A batch costs a handful of queries whatever its size: one lookup of existing
subscribers, one of suppressed hashes, one of existing subscriptions, then
multi-row INSERT/UPDATEs. Per-row ORM objects would cost more than everything
else in a million-row import together. The semantics are the audience's own:
consent source "import", suppressed or blocklisted addresses never subscribed,
`email_hash` always set, existing subscriptions (even unsubscribed) left as they are.
"""

import json
from dataclasses import dataclass, field

from django.db import connection
from django.utils import timezone

from postroom.audience.bulk import blocklist, insert_select
from postroom.audience.emails import email_hash
from postroom.audience.models import MailingList, Subscriber, Subscription, Suppression
from postroom.audience.services import initial_status, suppressed_hashes
from postroom.imports.rows import Contact, Rejection

SUPPRESSED_REASON = "the address is on the suppression list (it unsubscribed, bounced or was blocklisted); an import never subscribes it again"  # noqa: E501
BLOCKLISTED_REASON = "the subscriber is blocklisted; an import never subscribes it again"


@dataclass
class Outcome:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejections: list[Rejection] = field(default_factory=list)


class Upserter:
    """Applies batches for one import's mode, lists and consent; `dry_run` only classifies."""

    def __init__(
        self, mode: str, lists: list[MailingList], confirmed: bool, dry_run: bool = False
    ) -> None:
        self.mode = mode
        self.lists = lists
        self.statuses = {ml.id: initial_status(ml, confirmed) for ml in lists}
        self.dry_run = dry_run

    def apply(self, contacts: list[Contact]) -> Outcome:
        if self.mode == "blocklist":
            return self._blocklist(contacts)
        return self._subscribe(contacts)

    def _subscribe(self, contacts: list[Contact]) -> Outcome:
        outcome = Outcome()
        emails = [c.email for c in contacts]
        existing = {
            row[0]: row
            for row in Subscriber.objects.filter(email__in=emails).values_list(
                "email", "id", "name", "attributes", "status"
            )
        }
        hashes = {c.email: email_hash(c.email) for c in contacts}
        suppressed = suppressed_hashes(hashes.values())
        current = self._subscriptions([row[1] for row in existing.values()])

        new: list[Contact] = []
        changed: list[tuple[int, str, dict]] = []
        to_subscribe: list[str] = []
        for contact in contacts:
            row = existing.get(contact.email)
            if hashes[contact.email] in suppressed:
                outcome.rejections.append(Rejection(contact.line, contact.raw, SUPPRESSED_REASON))
                continue
            if row is None:
                new.append(contact)
                to_subscribe.append(contact.email)
                outcome.created += 1
                continue
            _, subscriber_id, name, attributes, status = row
            if status == Subscriber.Status.BLOCKLISTED:
                outcome.rejections.append(Rejection(contact.line, contact.raw, BLOCKLISTED_REASON))
                continue
            if self.mode == "skip-existing":
                outcome.unchanged += 1
                continue
            touched = self._needs_subscription(current.get(subscriber_id, {}))
            if self.mode == "update":
                new_name = contact.name or name
                merged = {**attributes, **contact.attributes}
                if new_name != name or merged != attributes:
                    changed.append((subscriber_id, new_name, merged))
                    touched = True
            if touched:
                to_subscribe.append(contact.email)
                outcome.updated += 1
            else:
                outcome.unchanged += 1
        if not self.dry_run:
            now = timezone.now()
            self._insert(new, hashes, now)
            self._update(changed, now)
            self._add_subscriptions(to_subscribe, now)
        return outcome

    def _subscriptions(self, subscriber_ids: list[int]) -> dict[int, dict[int, str]]:
        result: dict[int, dict[int, str]] = {}
        if not subscriber_ids or not self.lists:
            return result
        rows = Subscription.objects.filter(
            subscriber_id__in=subscriber_ids, mailing_list_id__in=list(self.statuses)
        ).values_list("subscriber_id", "mailing_list_id", "status")
        for subscriber_id, list_id, status in rows:
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

    def _insert(self, contacts: list[Contact], hashes: dict[str, str], now) -> None:
        if not contacts:
            return
        meta = Subscriber._meta
        attributes_field = meta.get_field("attributes")
        stamp = connection.ops.adapt_datetimefield_value(now)
        columns = [
            "email",
            "email_hash",
            "name",
            "attributes",
            "status",
            "created_at",
            "updated_at",
        ]
        names = ", ".join(connection.ops.quote_name(meta.get_field(c).column) for c in columns)
        holes = ", ".join(["%s"] * len(columns))
        # ON CONFLICT: someone may have signed up with the same address since the lookup.
        sql = (
            f"INSERT INTO {connection.ops.quote_name(meta.db_table)} ({names}) "
            f"VALUES ({holes}) ON CONFLICT DO NOTHING"
        )
        active = Subscriber.Status.ACTIVE
        if connection.vendor == "sqlite":
            params = [
                (c.email, hashes[c.email], c.name, json.dumps(c.attributes), active, stamp, stamp)
                for c in contacts
            ]
        else:
            params = [
                (
                    c.email,
                    hashes[c.email],
                    c.name,
                    attributes_field.get_db_prep_save(c.attributes, connection),
                    active,
                    stamp,
                    stamp,
                )
                for c in contacts
            ]
        with connection.cursor() as cursor:
            cursor.executemany(sql, params)

    def _update(self, changed: list[tuple[int, str, dict]], now) -> None:
        if not changed:
            return
        meta = Subscriber._meta
        attributes_field = meta.get_field("attributes")
        quote = connection.ops.quote_name
        sql = (
            f"UPDATE {quote(meta.db_table)} SET {quote('name')} = %s, "
            f"{quote('attributes')} = %s, {quote('updated_at')} = %s WHERE {quote('id')} = %s"
        )
        stamp = connection.ops.adapt_datetimefield_value(now)
        params = [
            (name, attributes_field.get_db_prep_save(attrs, connection), stamp, pk)
            for pk, name, attrs in changed
        ]
        with connection.cursor() as cursor:
            cursor.executemany(sql, params)

    def _add_subscriptions(self, emails: list[str], now) -> None:
        if not emails or not self.lists:
            return
        targets = Subscriber.objects.filter(email__in=emails, status=Subscriber.Status.ACTIVE)
        for list_id, status in self.statuses.items():
            confirmed_at = now if status == Subscription.Status.CONFIRMED else None
            insert_select(
                Subscription,
                [
                    "subscriber",
                    "mailing_list",
                    "status",
                    "consent_source",
                    "consent_at",
                    "confirmed_at",
                    "unsubscribe_source",
                    "created_at",
                    "updated_at",
                ],
                targets.values_list("pk"),
                list_id,
                status,
                Subscription.Source.IMPORT,
                now,
                confirmed_at,
                "",
                now,
                now,
            )
            if status == Subscription.Status.CONFIRMED:
                Subscription.objects.filter(
                    subscriber__in=targets,
                    mailing_list_id=list_id,
                    status=Subscription.Status.UNCONFIRMED,
                ).update(status=status, confirmed_at=now, updated_at=now)

    def _blocklist(self, contacts: list[Contact]) -> Outcome:
        """Created: a new suppression; updated: an existing subscriber newly blocklisted."""
        outcome = Outcome()
        hashes = {c.email: email_hash(c.email) for c in contacts}
        suppressed = suppressed_hashes(hashes.values())
        existing = dict(
            Subscriber.objects.filter(email__in=list(hashes)).values_list("email", "status")
        )
        fresh_hashes = []
        for contact in contacts:
            status = existing.get(contact.email)
            if status is not None and status != Subscriber.Status.BLOCKLISTED:
                outcome.updated += 1
            elif hashes[contact.email] not in suppressed:
                outcome.created += 1
            else:
                outcome.unchanged += 1
            if hashes[contact.email] not in suppressed:
                fresh_hashes.append(hashes[contact.email])
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
            blocklist(Subscriber.objects.filter(email__in=list(existing)), source="import")
        return outcome
