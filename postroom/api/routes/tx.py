"""/api/tx: transactional messages (a receipt, a password reset), and where each one is.

`POST /api/tx` takes Postroom's shape (`to`, `subject`, `body`, `format`, `data`,
`from`, `sender`, `idempotency_key`, or a stored `template` by name) and
listmonk's (`subscriber_email(s)`, numeric `template_id`, `data`, `from_email`,
`content_type`, `headers`), as JSON or as multipart (the JSON in the `data`
field and files as attachments, the way listmonk's clients post them). It
answers 202 with the id of each queued message (200 for a replay of an
idempotency key); `GET /api/tx/{id}` says queued, sent (with the server's
reply), failed (why) or in doubt. The domain work is transactional.services.
"""

import base64
import binascii
import json
from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest
from django.utils.translation import gettext
from ninja import Field, Router, Schema, Status
from ninja.errors import HttpError
from ninja.errors import ValidationError as NinjaValidationError
from pydantic import ConfigDict
from pydantic import ValidationError as PydanticValidationError

from postroom.accounts import audit
from postroom.api import scope
from postroom.api.errors import errors
from postroom.api.fields import RowId
from postroom.audience.models import Subscriber
from postroom.delivery.models import Delivery
from postroom.errors import InvalidInput, NotFound
from postroom.http import holds_nul, nul_refusal
from postroom.media import services as media
from postroom.transactional import services
from postroom.transactional.models import TxMessage, TxTemplate

router = Router(tags=["transactional"])
MAX_PAGE = 500
Format = Literal["markdown", "html", "plain"]


class AttachmentIn(Schema):
    """A file given inline (`filename` and base64 `content`) or from the media library
    (`media_id`, as /api/media lists them; its own name unless `filename` is given)."""

    filename: str = Field("", description="the file name the recipient sees")
    content: str | None = Field(None, description="the file, base64-encoded")
    content_type: str = Field("", description="e.g. application/pdf; guessed from the name")
    media_id: RowId | None = Field(None, description="a file of the media library, by id")


class TxIn(Schema):
    """Postroom's fields and listmonk's; give a body (`subject` + `body`) or a template."""

    model_config = ConfigDict(strict=True, populate_by_name=True)

    to: str | list[str] | None = Field(None, description="the recipient, or several")
    subject: str | None = Field(None, description="a template; with a stored one, replaces its")
    body: str | None = Field(None, description="a template, in `format`")
    format: Format = "markdown"
    template: str | None = Field(None, description="a stored transactional template, by name")
    layout: str | None = Field(None, description="a layout, by name, around `body`")
    data: dict[str, Any] = Field(default_factory=dict, description="what templates read as data")
    from_: str | None = Field(None, alias="from", description='"Name <address>" or an address')
    sender: str | None = Field(None, description="the sender, by name")
    idempotency_key: str | None = Field(
        None, max_length=200, description="the same key is never sent twice"
    )
    headers: dict[str, str] | list[dict[str, str]] | None = None
    attachments: list[AttachmentIn] = Field(default_factory=list)
    # listmonk's names
    subscriber_email: str | None = None
    subscriber_emails: list[str] | None = None
    subscriber_id: RowId | None = None
    subscriber_ids: list[RowId] | None = None
    template_id: RowId | None = Field(None, description="listmonk: a stored template's id")
    from_email: str | None = None
    content_type: Format | None = Field(None, description="listmonk's name for `format`")
    messenger: str | None = Field(None, description="listmonk: only `email` is known")


class TxAcceptedOut(Schema):
    id: int = Field(description="the first (usually only) message's id")
    ids: list[int] = Field(description="one message per recipient")
    status: str = Field(description="queued, or failed when the address may not be mailed")
    duplicate: bool = Field(description="a replay of an idempotency key: nothing new queued")
    data: bool = Field(True, description="listmonk's answer: always true")


class TxStatusOut(Schema):
    id: int
    status: Literal["queued", "sent", "failed", "in_doubt"]
    state: str = Field(description="the ledger row's state (pending, sending, retry, sent, …)")
    to: str
    subject: str
    template_id: int | None
    sender: str | None = Field(description="the sender it went through (None: not yet, or outbox)")
    created_at: datetime
    sent_at: datetime | None
    attempts: int
    next_attempt_at: datetime | None = Field(description="a temporary failure's next try")
    reply: str = Field(description="the server's last reply")
    error: str = Field(description="why it failed, or what held it back")
    message_id: str
    idempotency_key: str | None


class TxPage(Schema):
    items: list[TxStatusOut]
    next: int | None = Field(description="pass as `before` for the next (older) page")


class TxTemplateOut(Schema):
    id: int
    name: str
    subject: str
    body: str
    format: str
    layout: str | None
    from_email: str
    sender: str | None


def _inline(schema: dict) -> dict:
    """The model's JSON schema with its $defs inlined: a request body schema in OpenAPI
    cannot point into its own $defs."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return walk(defs[ref.rsplit("/", 1)[1]])
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    return walk(schema)


TX_SCHEMA = _inline(TxIn.model_json_schema(by_alias=True))
MULTIPART_SCHEMA = {
    "type": "object",
    "properties": {
        "data": {"type": "string", "description": "the JSON request, as in application/json"},
        "file": {"type": "array", "items": {"type": "string", "format": "binary"}},
    },
    "required": ["data"],
}


def _payload(request: HttpRequest) -> tuple[TxIn, list[services.Attachment]]:
    content_type = request.content_type or ""
    files: list[services.Attachment] = []
    raw: str | bytes
    if content_type == "multipart/form-data":
        raw = request.POST.get("data", "")
        uploads = [f for name in request.FILES for f in request.FILES.getlist(name)]
        for upload in uploads:
            files.append(
                services.Attachment(
                    upload.name or "attachment", upload.read(), upload.content_type or ""
                )
            )
    elif content_type == "application/json":
        raw = request.body
    else:
        raise InvalidInput(gettext("send JSON (application/json) or multipart/form-data"))
    try:
        decoded = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput(gettext("the body is not valid JSON")) from None
    if not isinstance(decoded, dict):
        raise InvalidInput(gettext("send a JSON object"))
    if holds_nul([decoded, *([f.filename, f.content_type] for f in files)]):
        raise InvalidInput(nul_refusal())
    try:
        data = TxIn.model_validate(decoded, strict=True)
    except PydanticValidationError as exc:
        raise NinjaValidationError(
            [{**e, "loc": ("body", *e.get("loc", ()))} for e in exc.errors(include_url=False)]
        ) from None
    for part in data.attachments:
        files.append(_attachment(part))
    return data, files


def _attachment(part: AttachmentIn) -> services.Attachment:
    if (part.media_id is None) == (part.content is None):
        raise InvalidInput(gettext("an attachment gives either `content` (base64) or `media_id`"))
    if part.media_id is not None:
        found = media.tx_part(part.media_id)
        return services.Attachment(part.filename or found.filename, found.data, found.content_type)
    try:
        content = base64.b64decode(part.content or "", validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(
            gettext("attachment %(filename)s: content is not base64")
            % {"filename": repr(part.filename)}
        ) from None
    return services.Attachment(part.filename, content, part.content_type)


def _recipients(request: HttpRequest, data: TxIn) -> list[str]:
    to: list[str] = []
    if data.to is not None:
        to += [data.to] if isinstance(data.to, str) else data.to
    if data.subscriber_email:
        to.append(data.subscriber_email)
    to += data.subscriber_emails or []
    ids = ([data.subscriber_id] if data.subscriber_id is not None else []) + (
        data.subscriber_ids or []
    )
    if ids:
        # A token narrowed to some lists names only their subscribers by id.
        people = scope.subscribers(request, Subscriber.objects.filter(pk__in=ids))
        found = dict(people.values_list("pk", "email"))
        missing = [i for i in ids if i not in found]
        if missing:
            raise NotFound(gettext("no subscriber with id %(id)s") % {"id": missing[0]})
        to += [found[i] for i in ids]
    return to


def _headers(value: dict[str, str] | list[dict[str, str]] | None) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    merged: dict[str, str] = {}
    for item in value:  # listmonk: [{"X-Name": "value"}, …]
        merged.update(item)
    return merged


def request_from(
    request: HttpRequest, data: TxIn, files: list[services.Attachment]
) -> services.TxRequest:
    """The API's fields, in either shape, as the service's one request."""
    listmonk = any(
        value is not None
        for value in (
            data.subscriber_email, data.subscriber_emails, data.subscriber_id,
            data.subscriber_ids, data.template_id, data.from_email, data.content_type,
        )
    )  # fmt: skip
    if data.messenger not in (None, "email"):
        raise InvalidInput(
            gettext("messenger %(messenger)s: only email is available")
            % {"messenger": repr(data.messenger)}
        )
    if data.template is not None and data.template_id is not None:
        raise InvalidInput(gettext("give `template` or `template_id`, not both"))
    template = None
    if data.template is not None:
        template = services.get_template(data.template)
    elif data.template_id is not None:
        template = services.get_template(data.template_id)
    return services.TxRequest(
        to=_recipients(request, data),
        subject=data.subject or "",
        body=data.body or "",
        body_format=data.content_type or data.format,
        template=template,
        layout=data.layout,
        data=data.data,
        from_address=data.from_ or data.from_email or "",
        sender=data.sender,
        headers=_headers(data.headers),
        attachments=files,
        idempotency_key=data.idempotency_key,
        source=TxMessage.Source.LISTMONK if listmonk else TxMessage.Source.API,
        user=request.user,
    )


@router.post(
    "",
    response={202: TxAcceptedOut, 200: TxAcceptedOut, **errors(400, 404, 409)},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": TX_SCHEMA},
                "multipart/form-data": {"schema": MULTIPART_SCHEMA},
            },
        }
    },
)
def send(request: HttpRequest):
    """Queue a transactional message to each recipient (202); a replayed key answers 200.

    The message goes to anyone who has not bounced, complained or been
    blocklisted (an unsubscribe is from newsletters, not from receipts); to
    those it is recorded as failed with the reason.
    """
    audit.recorded_elsewhere(request)  # the message itself says who queued it, and when
    data, files = _payload(request)
    try:
        accepted = services.accept(request_from(request, data, files))
    except services.IdempotencyConflict as exc:
        raise HttpError(409, str(exc)) from None
    first = accepted.messages[0]
    body = {
        "id": first.pk,
        "ids": [m.pk for m in accepted.messages],
        "status": services.STATUS[Delivery.State(first.delivery.state)],
        "duplicate": accepted.duplicate,
        "data": True,
    }
    return Status(200 if accepted.duplicate else 202, body)


@router.get("", response={200: TxPage, **errors(400)})
def log(
    request: HttpRequest,
    status: Literal["queued", "sent", "failed", "in_doubt"] | None = None,
    q: str = "",
    before: int = 0,
    limit: int = 100,
):
    """The newest messages first, filtered by status and recipient (keyset pages via `before`)."""
    rows = services.log(status, q, before)
    page = list(rows[: max(1, min(limit, MAX_PAGE))])
    more = rows.filter(pk__lt=page[-1].pk).exists() if page else False
    return {"items": [services.status(m) for m in page], "next": page[-1].pk if more else None}


@router.get("/templates", response={200: list[TxTemplateOut]})
def templates(request: HttpRequest):
    """Stored templates; `id` is what listmonk's `template_id` names."""
    return [
        services.template_json(t) for t in TxTemplate.objects.select_related("layout", "sender")
    ]


@router.get("/{tx_id}", response={200: TxStatusOut, **errors(404)})
def get(request: HttpRequest, tx_id: int):
    """Where one message is: queued, sent (with the server's reply), failed (why), in doubt."""
    return services.status(services.get_message(tx_id))
