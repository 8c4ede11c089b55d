"""SQL expressions over one key of `Subscriber.attributes`, the same on SQLite and PostgreSQL.

Django's own JSON key lookups compare raw JSON values, and the two databases
order mixed types differently (SQLite puts any text above any number; jsonb
puts numbers above strings). Attributes imported from spreadsheets are mostly
strings such as "42", so a segment "age > 30" must read them as numbers. These
expressions give each database the same three views of a key: its text, its
number (or NULL when it is not numeric) and its JSON type (NULL when missing).
"""

from collections.abc import Sequence

from django.db.models import F, FloatField, Func, TextField

# A number as people write one in a spreadsheet cell: optional sign, digits, optional decimals.
_PG_NUMERIC = "'^[[:space:]]*[-+]?[0-9]+([.][0-9]+)?[[:space:]]*$'"
_PG_DATE = "'^[0-9]{4}-[0-9]{2}-[0-9]{2}'"
_SQLITE_DATE = "'[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]*'"


def sqlite_path(path: Sequence[str]) -> str:
    """`$."a"."b"`: quoted so keys with spaces or digits are object keys, not array indexes."""
    return "$" + "".join(f'."{key}"' for key in path)


class AttrExpression(Func):
    """Base: holds the key path; subclasses render per database (no generic SQL on purpose)."""

    def __init__(self, path: Sequence[str]) -> None:
        super().__init__(F("attributes"))
        self.path = tuple(path)

    def _column(self, compiler, connection) -> tuple[str, list]:
        sql, params = compiler.compile(self.source_expressions[0])
        return sql, list(params)

    def as_sql(self, compiler, connection, *args, **extra):  # pragma: no cover - other backends
        raise NotImplementedError(f"{type(self).__name__} supports SQLite and PostgreSQL only")


class AttrType(AttrExpression):
    """The JSON type of the key ('string', 'number', 'null', ...), NULL when the key is missing."""

    output_field = TextField()

    def as_postgresql(self, compiler, connection, **extra):
        col, params = self._column(compiler, connection)
        return f"jsonb_typeof({col} #> %s::text[])", [*params, list(self.path)]

    def as_sqlite(self, compiler, connection, **extra):
        col, params = self._column(compiler, connection)
        return f"json_type({col}, %s)", [*params, sqlite_path(self.path)]


class AttrText(AttrExpression):
    """The value as text: strings unquoted, numbers as written, booleans 'true'/'false'."""

    output_field = TextField()

    def as_postgresql(self, compiler, connection, **extra):
        col, params = self._column(compiler, connection)
        return f"({col} #>> %s::text[])", [*params, list(self.path)]

    def as_sqlite(self, compiler, connection, **extra):
        col, params = self._column(compiler, connection)
        path = sqlite_path(self.path)
        # json_extract turns true/false into 1/0; spell them as PostgreSQL does.
        sql = (
            f"(CASE json_type({col}, %s) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' "
            f"WHEN 'null' THEN NULL ELSE CAST(json_extract({col}, %s) AS TEXT) END)"
        )
        return sql, [*params, path, *params, path]


class AttrNumber(AttrExpression):
    """The value as a number: JSON numbers and numeric strings; NULL for anything else."""

    output_field = FloatField()

    def as_postgresql(self, compiler, connection, **extra):
        col, params = self._column(compiler, connection)
        path = list(self.path)
        # CASE guards the cast: casting 'abc' to a number is an error on PostgreSQL.
        sql = (
            f"(CASE WHEN jsonb_typeof({col} #> %s::text[]) = 'number' "
            f"THEN ({col} #>> %s::text[])::double precision "
            f"WHEN jsonb_typeof({col} #> %s::text[]) = 'string' "
            f"AND ({col} #>> %s::text[]) ~ {_PG_NUMERIC} "
            f"THEN trim({col} #>> %s::text[])::double precision END)"
        )
        return sql, [*params, path, *params, path, *params, path, *params, path, *params, path]

    def as_sqlite(self, compiler, connection, **extra):
        col, params = self._column(compiler, connection)
        path = sqlite_path(self.path)
        text = f"trim(json_extract({col}, %s))"
        # GLOB instead of REGEXP: Django implements REGEXP on SQLite in Python, row by row.
        sql = (
            f"(CASE WHEN json_type({col}, %s) IN ('integer', 'real') "
            f"THEN json_extract({col}, %s) "
            f"WHEN json_type({col}, %s) = 'text' "
            f"AND ({text} GLOB '[0-9]*' OR {text} GLOB '[-+][0-9]*') "
            f"AND substr({text}, 2) NOT GLOB '*[^0-9.]*' "
            f"AND {text} NOT GLOB '*.*.*' AND {text} NOT GLOB '*.' "
            f"THEN CAST({text} AS REAL) END)"
        )
        return sql, [*params, path] * 9


class AttrDatePrefix(AttrExpression):
    """The first `length` characters of an ISO date(time) value; NULL when it is not one.

    Comparing ISO text prefixes compares dates: "2024-05-01T10:00" cut to the
    length of "2024-05-01" is that day, whatever the time.
    """

    output_field = TextField()

    def __init__(self, path: Sequence[str], length: int) -> None:
        super().__init__(path)
        self.length = int(length)

    def as_postgresql(self, compiler, connection, **extra):
        col, params = self._column(compiler, connection)
        path = list(self.path)
        sql = (
            f"(CASE WHEN ({col} #>> %s::text[]) ~ {_PG_DATE} "
            f"THEN substr({col} #>> %s::text[], 1, {self.length}) END)"
        )
        return sql, [*params, path, *params, path]

    def as_sqlite(self, compiler, connection, **extra):
        col, params = self._column(compiler, connection)
        path = sqlite_path(self.path)
        sql = (
            f"(CASE WHEN json_type({col}, %s) = 'text' "
            f"AND json_extract({col}, %s) GLOB {_SQLITE_DATE} "
            f"THEN substr(json_extract({col}, %s), 1, {self.length}) END)"
        )
        return sql, [*params, path] * 3
