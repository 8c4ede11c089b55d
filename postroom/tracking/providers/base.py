"""What every provider webhook module gives: a check that the request is genuine, and events.

    events = module.receive(headers, body)    # raises Forged, or InvalidInput for a bad body

`headers` are the request's headers with lower-case names, `body` its raw bytes: a
module needs neither Django nor a database, so each is tested with the provider's
documented sample payloads alone. tracking.bounces records what comes back.
"""

import base64
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext

from postroom.errors import InvalidInput, PostroomError
from postroom.tracking.bounces import Report


class Forged(PostroomError):
    """The request does not prove it comes from the provider: refused, nothing recorded."""


class NotConfigured(PostroomError):
    """The provider's secret is not set, so its endpoint does not exist (404)."""


@dataclass(frozen=True)
class Event:
    """One bounce or complaint a provider reported, with what makes it unique there."""

    report: Report
    key: str  # the provider's event id (or a digest of the event): recorded once
    raw: str  # the event as it came, for the Bounces page


Headers = Mapping[str, str]


def json_body(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(gettext("the body is not JSON: %(exc)s") % {"exc": exc}) from None


def pretty(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True)


def fresh(timestamp: str | int | float, max_age: int, now: float | None = None) -> None:
    """Refuse a signed timestamp older (or newer) than `max_age` seconds: a replayed request."""
    try:
        when = float(timestamp)
    except (TypeError, ValueError):
        raise Forged(gettext("the signature's timestamp is not a number")) from None
    if abs((now if now is not None else time.time()) - when) > max_age:
        raise Forged(
            gettext("the signature's timestamp is more than %(max_age)s s away from now")
            % {"max_age": max_age}
        )


def basic_or_bearer(headers: Headers, secret: str) -> None:
    """Providers without signatures (Postmark, SparkPost) send a secret we chose: as the
    password of HTTP Basic auth in the webhook URL, or as a bearer token."""
    value = headers.get("authorization", "")
    scheme, _, credentials = value.partition(" ")
    given = ""
    if scheme.lower() == "bearer":
        given = credentials.strip()
    elif scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            raise Forged(gettext("the Basic credentials are not base64")) from None
        given = decoded.partition(":")[2]
    if not given or not hmac.compare_digest(given.encode(), secret.encode()):
        raise Forged(gettext("the webhook secret is missing or wrong"))
