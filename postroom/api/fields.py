"""Input types the routes share, each validated exactly as the published schema says.

pydantic reads more than a schema promises: `date` takes `0` (a Unix time), `bool`
takes `"yes"`, `int` takes `true`; a request the schema calls malformed would be
answered 200. These refuse what their schema refuses.
"""

import re
from datetime import date, datetime
from typing import Annotated, Any

from django.utils.translation import gettext
from ninja import Path, Schema
from pydantic import BeforeValidator, ConfigDict, Field

from postroom.integers import ID_MAX

ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_day(value: Any) -> Any:
    if isinstance(value, date) or (isinstance(value, str) and ISO_DAY.fullmatch(value)):
        return value
    raise ValueError(gettext("a day is YYYY-MM-DD"))


# A calendar day, `YYYY-MM-DD` (OpenAPI's `format: date`) and nothing else.
Day = Annotated[date, BeforeValidator(_iso_day)]


ISO_INSTANT = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?([Zz]|[+-]\d{2}:\d{2})?"
)


def _iso_instant(value: Any) -> Any:
    if isinstance(value, datetime) or (isinstance(value, str) and ISO_INSTANT.fullmatch(value)):
        return value
    raise ValueError(gettext("a time is ISO 8601: YYYY-MM-DDTHH:MM[:SS][Z|+HH:MM]"))


# An instant, ISO 8601 text (OpenAPI's `format: date-time`), never a number (a Unix time).
Instant = Annotated[datetime, BeforeValidator(_iso_instant)]


def _whole_number(value: Any) -> Any:
    """JSON has one kind of number: 51.0 is the integer 51 (JSON Schema agrees), 51.5 is not."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# An integer in a Body accepts a whole number written 51 or 51.0, never true or "51":
# `Annotated[int, Field(ge=1, le=9), WHOLE]`. It goes after the bounds: put before them,
# pydantic would publish them as `ge`/`le`, which OpenAPI does not read.
WHOLE = BeforeValidator(_whole_number)

# A row's id in a body: beyond the databases' integers it names nothing and would make the
# query fail (a 500), so the schema bounds it as it bounds an id in a path.
RowId = Annotated[int, Field(ge=1, le=ID_MAX), WHOLE]

# A name, an address or an id in a path: any text but NUL, which PostgreSQL can neither
# store nor compare (a query, a form or a body with one is refused by the API's parser).
Key = Annotated[str, Path(pattern=r"^[^\x00]*$")]


class Body(Schema):
    """A JSON request body, read as strictly as its schema is written: `0` is not `false`
    and `"5"` is not 5 (pydantic's lax reading would take both). Its integers carry `WHOLE`."""

    model_config = ConfigDict(strict=True)
