"""Whole numbers the databases can store, checked before they reach one.

SQLite keeps any 64-bit integer and raises OverflowError past that; PostgreSQL
refuses a value outside its column's type (smallint, integer, bigint). Checking
every number against PostgreSQL's ranges, on both databases, gives one clear
error everywhere instead of "unexpected OverflowError" or a database error.
"""

from django.db import models
from django.db.backends.base.operations import BaseDatabaseOperations
from django.utils.translation import gettext

from postroom.errors import InvalidInput

# Django's own table of column ranges, the ones PostgreSQL enforces.
RANGES: dict[str, tuple[int, int]] = BaseDatabaseOperations.integer_field_ranges
ID_MAX = RANGES["BigAutoField"][1]


def as_id(value: object) -> int | None:
    """A primary key from user input, or None when it cannot name a row (so: not found)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        number = int(value.strip())
    else:
        return None
    return number if 1 <= number <= ID_MAX else None


def check_range(value: int, what: str, low: int, high: int) -> int:
    """`value` itself, or InvalidInput saying which range it must be in."""
    if not low <= value <= high:
        raise InvalidInput(
            gettext("%(what)s must be between %(low)s and %(high)s, not %(value)s")
            % {"what": what, "low": f"{low:,}", "high": f"{high:,}", "value": f"{value:,}"}
        )
    return value


def field_range(model: type[models.Model], name: str) -> tuple[int, int]:
    """The range a model's integer column holds on every database we run on."""
    return RANGES[model._meta.get_field(name).get_internal_type()]


def check_fields(instance: models.Model, names: set[str] | list[str]) -> None:
    """InvalidInput for the first integer field among `names` the database could not store."""
    for name in names:
        value = getattr(instance, name, None)
        field = instance._meta.get_field(name)
        internal = field.get_internal_type()
        if internal in RANGES and isinstance(value, int) and not isinstance(value, bool):
            low, high = RANGES[internal]
            check_range(value, name.replace("_", " "), low, high)
