"""The segment builder form: rows of (field, key, operator, value) to and from a definition.

The form edits flat definitions ("all" or "any" of conditions); anything
nested is edited as JSON. Values arrive as text and are typed here, the way a
person means them: "30" is a number for "greater than", names are split on commas.
"""

import json
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext

from postroom.audience import segments
from postroom.errors import InvalidInput

LIST_FIELDS = ("list", "tag")
NO_VALUE_OPS = ("exists", "not_exists")


@dataclass
class Row:
    field: str = "list"
    key: str = ""  # the attribute key when field == "attributes"
    op: str = "in"
    value: str = ""


def field_choices() -> list[tuple[str, str]]:
    choices = [(f.name, f.label) for f in segments.FIELDS.values()]
    return [*choices, ("attributes", "Attribute")]


def op_choices() -> list[tuple[str, str]]:
    return list(segments.OP_LABELS.items())


def rows_from_post(post) -> tuple[str, list[Row]]:
    match = "any" if post.get("match") == "any" else "all"
    fields, keys = post.getlist("field"), post.getlist("key")
    ops, values = post.getlist("op"), post.getlist("value")
    rows = [
        Row(f, k.strip(), o, v.strip())
        for f, k, o, v in zip(fields, keys, ops, values, strict=False)
    ]
    return match, rows


def definition_from_rows(match: str, rows: list[Row]) -> dict:
    conditions = []
    for row in rows:
        name = f"attributes.{row.key}" if row.field == "attributes" else row.field
        condition: dict[str, Any] = {"field": name, "op": row.op}
        if row.op not in NO_VALUE_OPS:
            condition["value"] = _typed(row)
        conditions.append(condition)
    return {match: conditions}


def _typed(row: Row) -> Any:
    if row.field in LIST_FIELDS or row.op == "in":
        return [part.strip() for part in row.value.split(",") if part.strip()]
    if row.field == "attributes" and row.op in ("eq", "neq"):
        if row.value in ("true", "false"):
            return row.value == "true"
        if segments.NUMBER.match(row.value):
            return float(row.value) if "." in row.value else int(row.value)
    return row.value


def rows_from_definition(definition: dict) -> tuple[str, list[Row]] | None:
    """The rows for a flat definition; None when it nests (then only JSON can edit it)."""
    match = "any" if "any" in definition else "all"
    conditions = definition.get(match)
    if not isinstance(conditions, list) or any("field" not in c for c in conditions):
        return None
    rows = []
    for c in conditions:
        field = c["field"]
        key = ""
        if field.startswith(segments.ATTRIBUTE_PREFIX):
            field, key = "attributes", field[len(segments.ATTRIBUTE_PREFIX) :]
        value = c.get("value", "")
        if isinstance(value, list):
            value = ", ".join(map(str, value))
        elif isinstance(value, bool):
            value = "true" if value else "false"
        rows.append(Row(field, key, c["op"], str(value)))
    return match, rows


def definition_from_post(post) -> dict:
    """The definition a builder form describes (JSON mode or rows), validated."""
    if post.get("mode") == "json":
        try:
            definition = json.loads(post.get("definition") or "")
        except ValueError as exc:
            raise InvalidInput(
                gettext("the definition is not valid JSON: %(error)s") % {"error": exc}
            ) from None
    else:
        definition = definition_from_rows(*rows_from_post(post))
    return segments.validate(definition)
