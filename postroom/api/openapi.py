"""What the published schema says beyond what ninja writes by itself."""

from typing import Any

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def forms_without_null(schema: dict[str, Any]) -> None:
    """A form field cannot be null: leaving it out is how a form says "none". The models
    allow None for that, but in a form body `null` could only travel as the text "null"."""
    for operations in schema["paths"].values():
        for operation in operations.values():
            content = operation.get("requestBody", {}).get("content", {})
            for media_type in FORM_TYPES:
                for field in (
                    content.get(media_type, {}).get("schema", {}).get("properties", {}).values()
                ):
                    _drop_null(field)


def _drop_null(field: dict[str, Any]) -> None:
    choices = [c for c in field.get("anyOf", ()) if c.get("type") != "null"]
    if "anyOf" not in field or len(choices) == len(field["anyOf"]):
        return
    del field["anyOf"]
    if len(choices) == 1:
        field.update(choices[0])
    else:
        field["anyOf"] = choices
    if field.get("default", "") is None:
        del field["default"]
