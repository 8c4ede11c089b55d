"""Operations on many subscribers at once (a selection or a whole filter result).

They run as set-based SQL (INSERT…SELECT, UPDATE … WHERE, chunked DELETE) so
tagging or blocklisting a million subscribers never loads them into Python.
Each takes a Subscriber queryset and returns how many rows it changed.
"""

from collections.abc import Iterable, Sequence
from datetime import datetime

from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import Exists, Model, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext

from postroom.audience.consent import clean_source, initial_status
from postroom.audience.models import MailingList, Subscriber, Subscription, Suppression, Tag
from postroom.audience.signals import subscribers_erasing
from postroom.errors import InvalidInput

ERASE_CHUNK = 1000


def column_name(model: type[Model], field: str) -> str:
    """The quoted database column of a model's field, for hand-written set-based SQL."""
    column = getattr(model._meta.get_field(field), "column", None)
    if not isinstance(column, str):
        raise TypeError(f"{model.__name__}.{field} has no column of its own")
    return connection.ops.quote_name(column)


def insert_select(model: type[Model], columns: Sequence[str], qs: QuerySet, *consts) -> int:
    """INSERT INTO model (columns) SELECT <qs's columns>, <consts>, skipping duplicates.

    `qs` is a values_list() queryset giving the first columns; `consts` fill the rest.
    ON CONFLICT DO NOTHING makes every bulk action idempotent on both databases.
    """
    try:
        select_sql, params = qs.order_by().query.sql_with_params()
    except EmptyResultSet:  # `pk__in=[]`: Django knows no row matches and writes no SQL
        return 0
    quote = connection.ops.quote_name
    names = ", ".join(column_name(model, c) for c in columns)
    holes = "".join(", %s" for _ in consts)
    # "WHERE true" keeps SQLite from reading ON CONFLICT as part of a join.
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({names}) "
        f"SELECT src.*{holes} FROM ({select_sql}) src WHERE true ON CONFLICT DO NOTHING"
    )
    # Raw SQL skips the ORM's adaptation: store datetimes exactly as the ORM would.
    values = [
        connection.ops.adapt_datetimefield_value(c) if isinstance(c, datetime) else c
        for c in consts
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, (*values, *params))
        return max(cursor.rowcount, 0)


def tag_names(names: Iterable[str]) -> list[str]:
    """Clean tag names: trimmed, non-empty, at most 100 characters, de-duplicated."""
    cleaned = list(dict.fromkeys(n.strip() for n in names if n and n.strip()))
    if not cleaned:
        raise InvalidInput(gettext("give at least one tag name"))
    for name in cleaned:
        if len(name) > 100:
            raise InvalidInput(
                gettext("tag %(name)s…: a tag name has at most 100 characters")
                % {"name": repr(name[:20])}
            )
    return cleaned


@transaction.atomic
def tag(subscribers: QuerySet[Subscriber], names: Iterable[str]) -> int:
    """Add tags (created when new) to every subscriber in the queryset."""
    added = 0
    through = Subscriber.tags.through
    for name in tag_names(names):
        tag_obj, _ = Tag.objects.get_or_create(name=name)
        added += insert_select(
            through, ["subscriber", "tag"], subscribers.values_list("pk"), tag_obj.pk
        )
    return added


@transaction.atomic
def untag(subscribers: QuerySet[Subscriber], names: Iterable[str]) -> int:
    through = Subscriber.tags.through
    rows = through.objects.filter(
        tag__name__in=tag_names(names), subscriber__in=subscribers.order_by().values("pk")
    )
    return rows.delete()[0]


def add_to_list(
    subscribers: QuerySet[Subscriber], mailing_list: MailingList, source: str = "admin"
) -> int:
    """Subscribe everyone not yet on the list; existing subscriptions (even unsubscribed) stay."""
    now = timezone.now()
    status = initial_status(mailing_list)
    confirmed_at = now if status == Subscription.Status.CONFIRMED else None
    with transaction.atomic():
        return insert_select(
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
            subscribers.values_list("pk"),
            mailing_list.pk,
            status,
            clean_source(source),
            now,
            confirmed_at,
            "",
            now,
            now,
        )


def suppress_all(subscribers: QuerySet[Subscriber], reason: str, source: str) -> int:
    """Put every address of the queryset on the suppression list (kept ones stay as they were)."""
    return insert_select(
        Suppression,
        ["email_hash", "reason", "source", "created_at"],
        subscribers.values_list("email_hash"),
        reason,
        source[:64],
        timezone.now(),
    )


@transaction.atomic
def blocklist(subscribers: QuerySet[Subscriber], source: str = "admin") -> int:
    """Never mail these again: status blocklisted and their addresses suppressed."""
    suppress_all(subscribers, Suppression.Reason.BLOCKLISTED, source)
    targets = Subscriber.objects.filter(pk__in=subscribers.order_by().values("pk"))
    return targets.exclude(status=Subscriber.Status.BLOCKLISTED).update(
        status=Subscriber.Status.BLOCKLISTED, updated_at=timezone.now()
    )


def withdrawn() -> Q:
    """Subscribers whose address must outlive their erasure."""
    unsubscribed = Subscription.objects.filter(
        subscriber=OuterRef("pk"), status=Subscription.Status.UNSUBSCRIBED
    )
    return Q(status=Subscriber.Status.BLOCKLISTED) | Q(Exists(unsubscribed))


@transaction.atomic
def erase_many(subscribers: QuerySet[Subscriber], source: str = "erasure") -> int:
    """GDPR erasure: delete the rows, keep only a hash for those who withdrew or were blocked.

    Bounces and complaints are already hashes in Suppression, which erasure never touches.
    """
    keep = subscribers.filter(withdrawn())
    suppress_all(keep.filter(status=Subscriber.Status.BLOCKLISTED), "blocklisted", source)
    suppress_all(keep, Suppression.Reason.UNSUBSCRIBED, source)
    ids = list(subscribers.order_by().values_list("pk", flat=True))
    erased = 0
    for start in range(0, len(ids), ERASE_CHUNK):
        chunk = ids[start : start + ERASE_CHUNK]
        rows = Subscriber.objects.filter(pk__in=chunk)
        subscribers_erasing.send(
            sender=Subscriber,
            subscriber_ids=chunk,
            email_hashes=list(rows.values_list("email_hash", flat=True)),
        )
        erased += rows.delete()[1].get(Subscriber._meta.label, 0)
    return erased


# What a bulk action is called, for the UI's menu and the API's `action`.
ACTIONS = {
    "add_to_list": "Add to list",
    "tag": "Add tag",
    "untag": "Remove tag",
    "blocklist": "Blocklist",
    "delete": "Delete (erase)",
}


def run(
    action: str,
    targets: QuerySet[Subscriber],
    mailing_list: MailingList | None = None,
    tag_name: str = "",
    source: str = "admin",
) -> int:
    """One bulk action over `targets`; how many subscribers it changed."""
    if action not in ACTIONS:
        raise InvalidInput(
            gettext("unknown bulk action %(action)s: use one of %(actions)s")
            % {"action": repr(action), "actions": ", ".join(ACTIONS)}
        )
    if action == "add_to_list":
        if mailing_list is None:
            raise InvalidInput(gettext("choose the list to add them to"))
        return add_to_list(targets, mailing_list, source=source)
    if action == "tag":
        return tag(targets, [tag_name])
    if action == "untag":
        return untag(targets, [tag_name])
    if action == "blocklist":
        return blocklist(targets, source=source)
    return erase_many(targets)
