"""Hand-written SQL the importer's writers share: per-batch lookups and placeholders.

Both databases: `_any` binds a whole batch as one parameter, so every batch size
is one statement.
"""

import json
from typing import Any, NamedTuple, cast

from django.db import IntegrityError, connection, transaction

from postroom.audience.bulk import column_name
from postroom.audience.models import Subscriber, Suppression

# Raw SQL for the per-batch lookups: Django's `__in` costs ~25 µs per value to build,
# more than the whole rest of a row's work.
SUBSCRIPTION_COLUMNS = [
    "subscriber_id",
    "mailing_list_id",
    "status",
    "consent_source",
    "consent_at",
    "confirmed_at",
    "unsubscribe_source",
    "created_at",
    "updated_at",
]


def table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def holes(values) -> str:
    return ", ".join(["%s"] * len(values))


def any_of(column: str) -> str:
    """`column` is one of the values of one parameter (given by _array).

    One parameter, whatever the batch size: a list of `%s` per value would make
    every batch size a different statement, and SQLite's statement cache then
    holds megabytes per size.
    """
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s)"
    return f"{column} IN (SELECT value FROM json_each(%s))"


def array(values: list) -> str:
    """A batch as one parameter: JSON text for SQLite's json_each, an array literal for
    PostgreSQL (which takes its element type from the column it is compared with).

    Not a Python list on PostgreSQL: Django's client-side binding has psycopg quote a
    list element by element in Python, ~10 µs each (9 of the importing process's 32
    CPU seconds for 300,000 rows); one string is escaped by libpq in one call.
    """
    if connection.vendor != "postgresql":
        return json.dumps(list(values))
    quoted = (str(v).replace("\\", "\\\\").replace('"', '\\"') for v in values)
    return "{" + ",".join(f'"{v}"' for v in quoted) + "}"


def select_in(sql: str, values: list, params: list | None = None) -> list[tuple]:
    """Run `sql` (with an any_of() condition last) for `values`."""
    if not values:
        return []
    with connection.cursor() as cursor:
        cursor.execute(sql, [*(params or []), array(values)])
        return cursor.fetchall()


def existing(emails: list[str]) -> list[tuple]:
    """(email, id, name, attributes, status) of the subscribers among `emails`."""
    attributes = Subscriber._meta.get_field("attributes")
    columns = "email, id, name, attributes, status"
    sql = f"SELECT {columns} FROM {table(Subscriber)} WHERE {any_of('email')}"
    return [
        # Django itself passes no expression here when it reads a row; the stubs want one.
        (email, pk, name, attributes.from_db_value(attrs, cast(Any, None), connection), status)
        for email, pk, name, attrs, status in select_in(sql, emails)
    ]


def suppressed(hashes) -> set[str]:
    sql = f"SELECT email_hash FROM {table(Suppression)} WHERE {any_of('email_hash')}"
    return {row[0] for row in select_in(sql, list(hashes))}


def suppression_reasons(hashes, staged: bool = False) -> dict[str, str]:
    """{hash: reason} of the suppressed among `hashes` (or the staged batch's, see stage)."""
    suppression = table(Suppression)
    if not staged:
        sql = f"SELECT email_hash, reason FROM {suppression} WHERE {any_of('email_hash')}"
        return dict(select_in(sql, list(hashes)))
    # One index probe per staged row, as a subquery per row: a join is planned as a hash
    # join over the whole list (300,000 suppressions: 95 ms a batch, this 40, `= ANY` 70).
    reason = f"SELECT reason FROM {suppression} p WHERE p.email_hash = s.email_hash"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT email_hash, reason FROM (SELECT email_hash, ({reason}) AS reason "
            f"FROM {STAGING} s) found WHERE reason IS NOT NULL"
        )
        return dict(cursor.fetchall())


def stamp(moment) -> Any:
    """A datetime as raw SQL must bind it, exactly as the ORM stores it."""
    return connection.ops.adapt_datetimefield_value(moment)


def json_hole() -> str:
    """The placeholder for JSON text: jsonb wants a cast on PostgreSQL."""
    return "%s::jsonb" if connection.vendor == "postgresql" else "%s"


class NewRows(NamedTuple):
    """The subscribers just inserted: `FROM …` (and its parameters) whose `id` column is
    theirs ("" if none; where not exact_new_rows(), every row with their addresses),
    and how many were inserted."""

    source: str
    params: list
    added: int


NOTHING = NewRows("", [], 0)


def exact_new_rows() -> bool:
    """Whether insert_subscribers can tell the rows it inserted from those already there."""
    return connection.vendor == "postgresql" or (connection.in_atomic_block and _immediate())


def new_ids(inserted: NewRows) -> set[int]:
    if not inserted.source:
        return set()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id {inserted.source}", inserted.params)
        return {row[0] for row in cursor.fetchall()}


def stage(contacts: list) -> bool:
    """PostgreSQL: COPY a batch into a session's temporary table, for the suppression
    lookup and insert_subscribers to read; False elsewhere (nothing staged).

    COPY's text rows are written in C by psycopg and read by the server without
    parsing literals: binding the batch's hashes as one array literal cost the
    importing process ~20 ms a batch, and 10,000-element arrays bound element by
    element (the insert before COPY) ~50 µs a row.
    """
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {STAGING} "
            "(email text, email_hash text, name text, attributes text)"
        )
        cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {NEW_IDS} (id bigint)")
        cursor.execute(f"TRUNCATE {STAGING}, {NEW_IDS}")
        with cursor.copy(f"COPY {STAGING} FROM STDIN") as copy:
            write = copy.write_row
            for c in contacts:
                write((c.email, c.email_hash, c.name, c.attributes_json))
    return True


def unstage(emails: list[str]) -> None:
    """Take these addresses out of the staged batch (not to be inserted)."""
    if emails:
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {STAGING} WHERE {any_of('email')}", [array(emails)])


def insert_subscribers(contacts: list, now, staged: bool = False) -> NewRows:
    """New subscribers (Contact rows), active, set-based; ON CONFLICT: the address may be
    there already (the upserter may insert before it looks), or someone signed up since.

    Returns which rows are the new ones, so that their subscriptions are inserted by
    id rather than by looking every address up again (measured: ~2 µs a row).
    `staged`: `contacts` are the batch stage() staged (and unstage() left).
    """
    if not contacts:
        return NOTHING
    moment = stamp(now)
    columns = ["email", "email_hash", "name", "attributes", "status", "created_at", "updated_at"]
    names = ", ".join(column_name(Subscriber, c) for c in columns)
    target = table(Subscriber)
    active = Subscriber.Status.ACTIVE
    if connection.vendor == "postgresql":
        if not staged:
            stage(contacts)
        count = _insert_staged(target, names, active, moment)
        return NewRows(f"FROM {NEW_IDS}", [], count)
    sql = f"INSERT INTO {target} ({names}) VALUES ({holes(columns)}) ON CONFLICT DO NOTHING"
    rows = [
        (c.email, c.email_hash, c.name, c.attributes_json, active, moment, moment)
        for c in sorted(contacts, key=lambda c: c.email)  # index pages in order
    ]
    with connection.cursor() as cursor:
        # Inside a transaction begun IMMEDIATE this connection holds SQLite's one write
        # lock, so every id above the highest one before is a row inserted here.
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {target}")
        (before,) = cursor.fetchone()
        cursor.executemany(sql, rows)
        count = cursor.rowcount  # rows ON CONFLICT left out count none
    if exact_new_rows():
        return NewRows(f"FROM {target} WHERE id > %s", [before], count)
    emails = array([c.email for c in contacts])
    return NewRows(f"FROM {target} WHERE {any_of('email')}", [emails], count)


def _immediate() -> bool:
    return connection.settings_dict.get("OPTIONS", {}).get("transaction_mode") == "IMMEDIATE"


STAGING = "postroom_import_staging"
NEW_IDS = "postroom_import_new_ids"


def _insert_staged(target: str, names: str, status: str, moment) -> int:
    """PostgreSQL: one INSERT…SELECT from the staged batch, whose new ids stay on the
    server in a second temporary table (NEW_IDS): the subscriptions are then one
    INSERT…SELECT from it, rather than the ids fetched and sent back as an array."""
    with connection.cursor() as cursor:
        insert = (
            f"WITH inserted AS (INSERT INTO {target} ({names}) "
            f"SELECT email, email_hash, name, attributes::jsonb, %s, %s, %s FROM {STAGING} "
            "ORDER BY email {} RETURNING id) "
            f"INSERT INTO {NEW_IDS} SELECT id FROM inserted"
        )
        params = [status, moment, moment]
        try:
            # A plain INSERT costs a fifth less of the server's time than ON CONFLICT's
            # speculative insertion (measured on a million rows); a savepoint makes its
            # rare failure (an address there already) cheap to take back.
            with transaction.atomic():
                cursor.execute(insert.format(""), params)
        except IntegrityError:
            cursor.execute(insert.format("ON CONFLICT DO NOTHING"), params)
        return cursor.rowcount
