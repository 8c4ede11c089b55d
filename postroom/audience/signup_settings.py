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

from django.utils.translation import gettext

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
        raise InvalidInput(
            gettext("%(origin)s is not a website origin: write it as https://example.org")
            % {"origin": repr(raw)}
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise InvalidInput(
            gettext(
                "%(origin)s is not an origin: give only scheme, host and port (https://example.org)"
            )
            % {"origin": repr(raw)}
        )
    try:
        port = parts.port
    except ValueError:
        raise InvalidInput(
            gettext("%(origin)s has an invalid port") % {"origin": repr(raw)}
        ) from None
    default = {"http": 80, "https": 443}[parts.scheme]
    try:
        host = ascii_domain(parts.hostname)
    except HeaderError:
        raise InvalidInput(
            gettext("%(origin)s does not name a valid host") % {"origin": repr(raw)}
        ) from None
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
        raise InvalidInput(gettext("form fields must be a list of objects"))
    if len(fields) > MAX_FIELDS:
        raise InvalidInput(
            gettext("a form takes at most %(count)s custom fields") % {"count": MAX_FIELDS}
        )
    cleaned: list[dict[str, Any]] = []
    for position, field in enumerate(fields, 1):
        if not isinstance(field, dict):
            raise InvalidInput(
                gettext("form field %(position)s must be an object") % {"position": position}
            )
        unknown = set(field) - {"name", "label", "type", "required", "choices"}
        if unknown:
            raise InvalidInput(
                gettext("form field %(position)s: unknown key %(key)s")
                % {"position": position, "key": repr(sorted(unknown)[0])}
            )
        name = str(field.get("name", "")).strip()
        if not _NAME.match(name) or name in RESERVED:
            raise InvalidInput(
                gettext(
                    "form field %(position)s: the name %(name)s must be lower-case letters, digits"
                    " and _ (starting with a letter, at most 40) and not a reserved word"
                )
                % {"position": position, "name": repr(name)}
            )
        if any(other["name"] == name for other in cleaned):
            raise InvalidInput(
                gettext("form field %(position)s: %(name)s is there twice")
                % {"position": position, "name": repr(name)}
            )
        kind = field.get("type", "text")
        if kind not in FIELD_TYPES:
            raise InvalidInput(
                gettext("form field %(name)s: type must be one of %(types)s, not %(type)s")
                % {"name": repr(name), "types": ", ".join(FIELD_TYPES), "type": repr(kind)}
            )
        choices = field.get("choices") or []
        if kind == "choice":
            if not isinstance(choices, list) or not choices:
                raise InvalidInput(
                    gettext("form field %(name)s: a choice field needs its choices")
                    % {"name": repr(name)}
                )
            choices = [str(c).strip() for c in choices if str(c).strip()]
        elif choices:
            raise InvalidInput(
                gettext("form field %(name)s: only a choice field has choices")
                % {"name": repr(name)}
            )
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
            raise InvalidInput(_not_a_number(label, text)) from None
        if number != number or number in (float("inf"), float("-inf")):
            raise InvalidInput(_not_a_number(label, text))
        return int(number) if number.is_integer() and abs(number) < 2**53 else number
    if kind == "date":
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            raise InvalidInput(
                gettext("%(label)s: %(value)s is not a date (YYYY-MM-DD)")
                % {"label": label, "value": repr(text)}
            ) from None
    if kind == "choice" and text not in field["choices"]:
        raise InvalidInput(
            gettext("%(label)s: choose one of %(choices)s")
            % {"label": label, "choices": ", ".join(field["choices"])}
        )
    if len(text) > MAX_TEXT:
        raise InvalidInput(
            gettext("%(label)s: at most %(count)s characters") % {"label": label, "count": MAX_TEXT}
        )
    return text


def _not_a_number(label: str, text: str) -> str:
    return gettext("%(label)s: %(value)s is not a number") % {"label": label, "value": repr(text)}


def clean_submission(fields: list[dict[str, Any]], submitted: dict[str, Any]) -> dict[str, Any]:
    """The attributes a sign-up may set: only the forms' own fields, each checked.

    Raises InvalidInput naming the field (by its label) for a missing required
    value, a wrong one, or an attribute no form of these lists asks for.
    """
    by_name = {field["name"]: field for field in fields}
    unknown = sorted(set(submitted) - set(by_name))
    if unknown:
        raise InvalidInput(
            gettext("%(name)s is not a field of this sign-up form") % {"name": repr(unknown[0])}
        )
    attributes: dict[str, Any] = {}
    for name, field in by_name.items():
        raw = submitted.get(name)
        if field["type"] == "checkbox":
            ticked = raw is not None and _value(field, raw)
            if field["required"] and not ticked:
                raise InvalidInput(
                    gettext("%(label)s: this box must be ticked") % {"label": field["label"]}
                )
            attributes[name] = bool(ticked)
        elif raw is None or (isinstance(raw, str) and not raw.strip()):
            if field["required"]:
                raise InvalidInput(
                    gettext("%(label)s: this field is required") % {"label": field["label"]}
                )
        else:
            attributes[name] = _value(field, raw)
    return attributes
