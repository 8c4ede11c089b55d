"""/api/public: what any website may call with no credential — sign-ups and their captcha.

`POST /api/public/subscription` takes Postroom's shape and listmonk's
(`list_uuids`), as JSON or as a form post (`lists`, listmonk's `l`, custom
fields as `attributes.NAME`). A browser that navigated here with a plain
form (no script) gets Postroom's thanks page instead of JSON. The answer is
the same for every address; CORS headers come from api.cors.
"""

import json
from typing import Any

from django.http import HttpRequest
from django.utils import translation
from django.utils.translation import gettext
from ninja import Field, Router, Schema

from postroom.api.errors import errors, status_for
from postroom.audience.models import MailingList
from postroom.errors import InvalidInput, PostroomError
from postroom.http import client_ip, holds_nul, nul_refusal
from postroom.tracking import captcha, confirmations, signups
from postroom.tracking.forms import HONEYPOTS
from postroom.web.branded import render_public

router = Router(tags=["public sign-ups"], auth=None)

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class SubscriptionIn(Schema):
    """A sign-up; `list_uuids` is listmonk's name for `lists`."""

    email: str = Field(description="the address to subscribe")
    name: str = ""
    lists: list[str] = Field(default_factory=list, description="list uuids")
    list_uuids: list[str] = Field(default_factory=list, description="listmonk's name for `lists`")
    attributes: dict[str, Any] = Field(
        default_factory=dict, description="values of the lists' custom form fields"
    )
    altcha: str | None = Field(None, description="the solved captcha, on lists that have one")


class SubscriptionOut(Schema):
    data: bool = Field(description="always true: the sign-up was taken (listmonk's shape)")
    message: str = Field(description="what to tell the person, the same for every address")


class ChallengeOut(Schema):
    algorithm: str
    challenge: str
    maxnumber: int
    salt: str
    signature: str


def _signup(request: HttpRequest) -> signups.Signup:
    content_type = request.content_type or ""
    if content_type in FORM_TYPES:
        form = request.POST
        raw: dict[str, Any] = {
            "email": form.get("email", ""),
            "name": form.get("name", ""),
            "lists": form.getlist("lists") + form.getlist("list_uuids") + form.getlist("l"),
            "attributes": {
                key.removeprefix("attributes."): form.get(key)
                for key in form
                if key.startswith("attributes.")
            },
            "altcha": form.get(captcha.FIELD),
        }
        bot = any(form.get(name, "").strip() for name in HONEYPOTS)
    elif content_type == "application/json":
        try:
            raw = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            raise InvalidInput(gettext("the body is not valid JSON")) from None
        if not isinstance(raw, dict):
            raise InvalidInput(gettext("send a JSON object"))
        bot = any(str(raw.get(name) or "").strip() for name in HONEYPOTS)
    else:
        raise InvalidInput(gettext("send JSON (application/json) or a form post"))
    if holds_nul(raw):  # parsed here, not by ninja's parser: the same refusal
        raise InvalidInput(nul_refusal())
    lists = raw.get("lists") or raw.get("list_uuids") or []
    attributes = raw.get("attributes")
    attributes = {} if attributes is None else attributes
    if not isinstance(lists, list) or not isinstance(attributes, dict):
        raise InvalidInput(gettext("`lists` must be a list of uuids and `attributes` an object"))
    for key in ("email", "name", "altcha"):
        if raw.get(key) is not None and not isinstance(raw[key], str):
            raise InvalidInput(gettext("`%(key)s` must be a string") % {"key": key})
    return signups.Signup(
        email=raw.get("email") or "",
        name=raw.get("name") or "",
        lists=[str(item) for item in lists],
        attributes=attributes,
        bot=bot,
        captcha=raw.get("altcha"),
        # The visitor's browser asked the website's page for this (a fetch sends its
        # Accept-Language): their confirmation email speaks it unless their list has one.
        language=translation.get_language_from_request(request),
    )


def _wants_page(request: HttpRequest) -> bool:
    """A browser that followed a plain form (no script) asks for HTML, not JSON."""
    accept = request.headers.get("accept", "")
    return (request.content_type or "") in FORM_TYPES and "text/html" in accept


def message(lists: list[MailingList]) -> str:
    """What the sign-up snippet shows the visitor, in their browser's language."""
    if any(ml.optin == MailingList.Optin.DOUBLE for ml in lists):
        return gettext(
            "Thank you! Check your inbox: we have sent a link to confirm your subscription "
            "(it works for %(days)s days)."
        ) % {"days": confirmations.CONFIRM_DAYS}
    return gettext("Thank you for subscribing!")


@router.post(
    "/subscription",
    response={200: SubscriptionOut, **errors(400, 403, 404, 429)},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": SubscriptionIn.model_json_schema()},
                "application/x-www-form-urlencoded": {"schema": SubscriptionIn.model_json_schema()},
            },
        }
    },
)
def subscription(request: HttpRequest):
    """Sign someone up to public lists, from any website the lists allow.

    The same answer, in body and time, for a new, known, unsubscribed or
    blocklisted address: the work (and any confirmation email) is a worker's.
    """
    try:
        lists = signups.accept(_signup(request), client_ip(request), request.headers.get("origin"))
    except PostroomError as exc:
        if not _wants_page(request):
            raise
        refused: dict[str, Any] = {"detail": str(exc)}
        return render_public(
            request, "web/public/signup_refused.html", refused, status=status_for(exc)
        )
    if _wants_page(request):
        double = any(ml.optin == MailingList.Optin.DOUBLE for ml in lists)
        context: dict[str, Any] = {
            "list": lists[0],
            "double": double,
            "days": confirmations.CONFIRM_DAYS,
        }
        return render_public(request, "web/public/subscribe_thanks.html", context, lists[0])
    return {"data": True, "message": message(lists)}


@router.get("/captcha", response={200: ChallengeOut}, url_name="public_captcha")
def challenge(request: HttpRequest) -> dict:
    """A proof-of-work challenge for a sign-up form (ALTCHA's format)."""
    return captcha.challenge()
