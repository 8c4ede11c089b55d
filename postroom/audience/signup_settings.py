"""What a list's public sign-up forms accept: the websites allowed to post, and custom fields.

One checker for the UI, the CLI and the API, so a setting refused in one is
refused in all with the same words. Submitted field values are checked here
too (server-side: a browser's `required` is a courtesy, not a guarantee).
"""

import re
from collections.abc import Iterable
from datetime import date
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

from postroom.errors import InvalidInput
from postroom.mail.errors import HeaderError
from postroom.mail.mime import ascii_domain

FieldType = Literal["text", "number", "checkbox", "choice", "date"]
FIELD_TYPES: tuple[str, ...] = get_args(FieldType)
# Attribute names a form field may not take: they are the subscriber's own columns.
RESERVED = {"email", "name", "lists", "list_uuids", "attributes", "altcha", "website"}
MAX_FIELDS = 20
MAX_TEXT = 500
NAME_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
_NAME = re.compile(NAME_PATTERN)


def clean_origin(value: str) -> str:
    """`https://Example.org/` → `https://example.org`; a path, query or other scheme is refused."""
    raw = (value or "").strip()
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"{raw!r} is not a website origin: write it as https://example.org")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise InvalidInput(
            f"{raw!r} is not an origin: give only scheme, host and port (https://example.org)"
        )
    try:
        port = parts.port
    except ValueError:
        raise InvalidInput(f"{raw!r} has an invalid port") from None
    default = {"http": 80, "https": 443}[parts.scheme]
    try:
        host = ascii_domain(parts.hostname)
    except HeaderError:
        raise InvalidInput(f"{raw!r} does not name a valid host") from None
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def clean_origins(values: Iterable[str]) -> list[str]:
    """Each origin cleaned, duplicates dropped, in the order given."""
    cleaned: list[str] = []
    for value in values:
        if not (value or "").strip():
            continue
        origin = clean_origin(value)
        if origin not in cleaned:
            cleaned.append(origin)
    return cleaned


def clean_form_fields(fields: Any) -> list[dict[str, Any]]:
    """A list's custom form fields, checked and in one canonical shape."""
    if not isinstance(fields, list):
        raise InvalidInput("form fields must be a list of objects")
    if len(fields) > MAX_FIELDS:
        raise InvalidInput(f"a form takes at most {MAX_FIELDS} custom fields")
    cleaned: list[dict[str, Any]] = []
    for position, field in enumerate(fields, 1):
        if not isinstance(field, dict):
            raise InvalidInput(f"form field {position} must be an object")
        unknown = set(field) - {"name", "label", "type", "required", "choices"}
        if unknown:
            raise InvalidInput(f"form field {position}: unknown key {sorted(unknown)[0]!r}")
        name = str(field.get("name", "")).strip()
        if not _NAME.match(name) or name in RESERVED:
            raise InvalidInput(
                f"form field {position}: the name {name!r} must be lower-case letters, digits "
                "and _ (starting with a letter, at most 40) and not a reserved word"
            )
        if any(other["name"] == name for other in cleaned):
            raise InvalidInput(f"form field {position}: {name!r} is there twice")
        kind = field.get("type", "text")
        if kind not in FIELD_TYPES:
            raise InvalidInput(
                f"form field {name!r}: type must be one of {', '.join(FIELD_TYPES)}, not {kind!r}"
            )
        choices = field.get("choices") or []
        if kind == "choice":
            if not isinstance(choices, list) or not choices:
                raise InvalidInput(f"form field {name!r}: a choice field needs its choices")
            choices = [str(c).strip() for c in choices if str(c).strip()]
        elif choices:
            raise InvalidInput(f"form field {name!r}: only a choice field has choices")
        label = str(field.get("label") or name.replace("_", " ").capitalize()).strip()[:100]
        cleaned.append(
            {
                "name": name,
                "label": label,
                "type": kind,
                "required": bool(field.get("required", False)),
                "choices": choices,
            }
        )
    return cleaned


def _value(field: dict[str, Any], raw: Any) -> Any:
    label = field["label"]
    kind = field["type"]
    if kind == "checkbox":
        if isinstance(raw, bool):
            return raw
        return str(raw).strip().lower() in ("1", "true", "on", "yes")
    text = str(raw).strip()
    if kind == "number":
        try:
            number = float(text)
        except ValueError:
            raise InvalidInput(f"{label}: {text!r} is not a number") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise InvalidInput(f"{label}: {text!r} is not a number")
        return int(number) if number.is_integer() and abs(number) < 2**53 else number
    if kind == "date":
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            raise InvalidInput(f"{label}: {text!r} is not a date (YYYY-MM-DD)") from None
    if kind == "choice" and text not in field["choices"]:
        raise InvalidInput(f"{label}: choose one of {', '.join(field['choices'])}")
    if len(text) > MAX_TEXT:
        raise InvalidInput(f"{label}: at most {MAX_TEXT} characters")
    return text


def clean_submission(fields: list[dict[str, Any]], submitted: dict[str, Any]) -> dict[str, Any]:
    """The attributes a sign-up may set: only the forms' own fields, each checked.

    Raises InvalidInput naming the field (by its label) for a missing required
    value, a wrong one, or an attribute no form of these lists asks for.
    """
    by_name = {field["name"]: field for field in fields}
    unknown = sorted(set(submitted) - set(by_name))
    if unknown:
        raise InvalidInput(f"{unknown[0]!r} is not a field of this sign-up form")
    attributes: dict[str, Any] = {}
    for name, field in by_name.items():
        raw = submitted.get(name)
        if field["type"] == "checkbox":
            ticked = raw is not None and _value(field, raw)
            if field["required"] and not ticked:
                raise InvalidInput(f"{field['label']}: this box must be ticked")
            attributes[name] = bool(ticked)
        elif raw is None or (isinstance(raw, str) and not raw.strip()):
            if field["required"]:
                raise InvalidInput(f"{field['label']}: this field is required")
        else:
            attributes[name] = _value(field, raw)
    return attributes
