"""Accepting transactional messages and telling where each one is.

`accept()` is the one function behind `POST /api/tx`, `postroom tx send` and
the listmonk shape: it checks everything first (addresses, template, render,
headers, attachments, sender) and then writes each message and its ledger row
in one transaction, or nothing. The ledger row goes into the sender's
transactional stream, a standing hidden campaign the engine serves ahead of
newsletters on the same sender (its priority, within the sender's limits).
"""

import hashlib
import json
from dataclasses import dataclass, field
from email.utils import parseaddr
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext

from postroom.audience.emails import InvalidEmail, email_hash, normalize_email
from postroom.audience.models import Subscriber, Suppression
from postroom.campaigns import lifecycle
from postroom.campaigns.models import Campaign, Layout
from postroom.campaigns.services import default_from_email
from postroom.delivery import scheduler
from postroom.delivery.models import Delivery, Sender
from postroom.errors import InvalidInput, NotFound
from postroom.mail import mime
from postroom.mail.attachments import check_files
from postroom.mail.errors import HeaderError
from postroom.transactional import message, render
from postroom.transactional.models import TxAttachment, TxMessage, TxTemplate

# The stream's weight in its sender's fair share against newsletters (priority 1 by
# default): with pending receipts it takes nearly every turn, and the sender's rate
# limits still hold because it is granted slots like any campaign.
PRIORITY = 1000
MAX_RECIPIENTS = 100
# Kept by a receipt: an unsubscribe is from newsletters. These stop it (the address
# bounced for good, complained, or an operator blocked it).
BLOCKING: dict[str, str] = {  # keyed by Suppression.Reason, looked up with the stored str
    Suppression.Reason.BOUNCED: "the address bounced",
    Suppression.Reason.COMPLAINED: "the recipient complained about mail from here",
    Suppression.Reason.BLOCKLISTED: "the address is blocklisted",
    Suppression.Reason.MANUAL: "the address was suppressed by an operator",
}


class IdempotencyConflict(InvalidInput):
    """The idempotency key was used before for a different request."""


@dataclass
class Attachment:
    filename: str
    data: bytes
    content_type: str = ""


@dataclass
class TxRequest:
    """One request: one message per address in `to`, all built from the same content."""

    to: list[str]
    subject: str = ""
    body: str = ""
    body_format: str = "markdown"
    template: TxTemplate | None = None
    layout: str | None = None  # a Layout's name, around the body given here
    data: dict[str, Any] = field(default_factory=dict)
    from_address: str = ""  # "Name <a@b>" or "a@b"
    sender: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    attachments: list[Attachment] = field(default_factory=list)
    idempotency_key: str | None = None
    source: str = TxMessage.Source.API
    user: Any = None


@dataclass
class Accepted:
    messages: list[TxMessage]
    duplicate: bool = False  # a replay of an accepted request: nothing new was queued


# -- looking things up --------------------------------------------------------------


def get_template(name_or_id: str | int) -> TxTemplate:
    if isinstance(name_or_id, int) or str(name_or_id).isdigit():
        found = TxTemplate.objects.filter(pk=int(name_or_id)).first()
    else:
        found = TxTemplate.objects.filter(name=name_or_id).first()
    if found is None:
        raise NotFound(
            gettext("no transactional template %(name_or_id)s") % {"name_or_id": repr(name_or_id)}
        )
    return found


def get_message(message_id: int) -> TxMessage:
    found = (
        TxMessage.objects.select_related("delivery", "delivery__sender", "template")
        .filter(pk=message_id)
        .first()
    )
    if found is None:
        raise NotFound(
            gettext("no transactional message with id %(message_id)s") % {"message_id": message_id}
        )
    return found


def stream_for(sender: Sender | None) -> tuple[int, bool]:
    """The id of the sender's transactional stream, made the first time (the unique
    constraint settles two first messages racing), and whether it has messages waiting."""
    found = (
        Campaign.objects.filter(kind=Campaign.Kind.TRANSACTIONAL, sender=sender)
        .values_list("pk", flat=True)
        .first()
    )
    if found is not None:
        waiting = Delivery.objects.filter(campaign_id=found, state=Delivery.State.PENDING)
        return found, waiting.exists()
    name = sender.name if sender is not None else "outbox"
    try:
        with transaction.atomic():
            stream = Campaign.objects.create(
                kind=Campaign.Kind.TRANSACTIONAL,
                name=f"Transactional mail via {name}",
                subject="(each message has its own)",
                body="(each message has its own)",
                from_email=default_from_email(sender) if sender is None else _stream_from(sender),
                sender=sender,
                priority=PRIORITY,
                # Failures are the requester's to see, per message; they never pause receipts.
                error_threshold_percent=100,
                status=lifecycle.BORN[Campaign.Kind.TRANSACTIONAL],
                started_at=timezone.now(),
            )
    except IntegrityError:
        stream = Campaign.objects.get(kind=Campaign.Kind.TRANSACTIONAL, sender=sender)
    return stream.pk, False


def _stream_from(sender: Sender) -> str:
    try:
        return default_from_email(sender)
    except InvalidInput:
        return "transactional@localhost.localdomain"  # never used: each message has its From


def _sender(request: TxRequest) -> Sender | None:
    if request.sender:
        found = (
            Sender.objects.filter(name=request.sender).only("id", "name", "envelope_from").first()
        )
        if found is None:
            raise InvalidInput(
                gettext("no sender named %(sender)s") % {"sender": repr(request.sender)}
            )
        return found
    if request.template is not None and request.template.sender_id is not None:
        return request.template.sender
    # What a request needs of its sender: which (for the stream) and its return path
    # (the default From); the engine reads the rest when it sends.
    senders = list(Sender.objects.only("id", "name", "envelope_from")[:2])
    if len(senders) > 1:
        raise InvalidInput(gettext("there are several senders: name one with `sender`"))
    return senders[0] if senders else None  # none: the local outbox


# -- checking the request -------------------------------------------------------------


def _labels(role: str) -> tuple[str, str]:
    """How the refusals name the address and the name of each role, in whole phrases:
    "the from address" does not read as a word inserted into a sentence elsewhere."""
    return {
        "from": (gettext("the from address"), gettext("the from name")),
        "template's from": (
            gettext("the template's from address"),
            gettext("the template's from name"),
        ),
        "default from": (gettext("the default from address"), gettext("the default from name")),
        "to": (gettext("the to address"), gettext("the to name")),
    }[role]


def mailbox(raw: str, role: str) -> tuple[str, str]:
    """(normalised address, display name) of "Name <a@b>" or "a@b"; the role
    (from, template's from, default from, to) names them in a refusal."""
    address_label, name_label = _labels(role)
    raw = (raw or "").strip()
    # Only "Name <address>" is taken apart: parseaddr would quietly drop what follows
    # a bare address ("a@b.c;Ada" → a@b.c), a mistake the sender must hear about.
    name, address = parseaddr(raw) if raw.endswith(">") and "<" in raw else ("", raw)
    if not address or "\n" in raw or "\r" in raw:
        raise InvalidInput(
            gettext("%(what)s %(address)s is not valid")
            % {"what": address_label, "address": repr(raw)}
        )
    try:
        email = normalize_email(address)
    except InvalidEmail as exc:
        raise InvalidInput(
            gettext("%(what)s %(address)s is not valid: %(reason)s")
            % {"what": address_label, "address": repr(address), "reason": exc}
        ) from None
    try:
        mime.check_campaign_value(name, name_label)
    except HeaderError as exc:
        raise InvalidInput(str(exc)) from None
    return email, name.strip()


def _headers(headers: dict[str, str]) -> dict[str, str]:
    checked = {}
    for name, value in headers.items():
        mime.custom_header(str(name), str(value))  # HeaderError (InvalidInput) says why
        checked[str(name)] = str(value)
    return checked


def _attachments(parts: list[Attachment]) -> list[Attachment]:
    check_files([(part.filename, len(part.data)) for part in parts])
    return parts


def _from(request: TxRequest, sender: Sender | None) -> tuple[str, str]:
    template = request.template
    if request.from_address:
        return mailbox(request.from_address, "from")
    if template is not None and template.from_email:
        email, _ = mailbox(template.from_email, "template's from")
        return email, template.from_name
    try:
        fallback = default_from_email(sender)
    except InvalidInput:
        raise InvalidInput(
            gettext(
                "no From address: give `from` (--from), use a template with one, or set "
                "POSTROOM_FROM_EMAIL"
            )
        ) from None
    return mailbox(fallback, "default from")


def _compiled(request: TxRequest) -> render.Compiled:
    template = request.template
    if template is not None:
        chosen = template.layout  # no query when layout_id is None
        layout = chosen.html if chosen is not None else None
        return render.compiled(
            request.subject or template.subject, template.body, template.body_format, layout
        )
    if not request.subject or not request.body:
        raise InvalidInput(gettext("give `subject` and `body`, or a stored template"))
    layout_html = None
    if request.layout:
        found = Layout.objects.filter(name=request.layout).first()
        if found is None:
            raise InvalidInput(
                gettext("no layout named %(layout)s") % {"layout": repr(request.layout)}
            )
        layout_html = found.html
    return render.compiled(request.subject, request.body, request.body_format, layout_html)


def blocked_reasons(emails: list[str], blocklisted: set[str]) -> dict[str, str]:
    """Why a receipt may not go to each of these addresses (absent: it may).

    Unsubscribed people still get one; `blocklisted` are the addresses whose
    subscriber is blocklisted (read with the subscribers, one query fewer).
    """
    hashes = {email_hash(e): e for e in emails}
    reasons = {e: BLOCKING[Suppression.Reason.BLOCKLISTED] for e in blocklisted}
    for digest, reason in Suppression.objects.filter(email_hash__in=list(hashes)).values_list(
        "email_hash", "reason"
    ):
        if reason in BLOCKING:
            reasons.setdefault(hashes[digest], BLOCKING[reason])
    return reasons


def fingerprint(request: TxRequest) -> str:
    """What makes two requests the same one, for idempotency."""
    facts = {
        "to": request.to,
        "subject": request.subject,
        "body": request.body,
        "format": request.body_format,
        "template": request.template.pk if request.template else None,
        "layout": request.layout,
        "data": request.data,
        "from": request.from_address,
        "sender": request.sender,
        "headers": request.headers,
        "attachments": [
            (a.filename, hashlib.sha256(a.data).hexdigest()) for a in request.attachments
        ],
    }
    raw = json.dumps(facts, sort_keys=True, default=str).encode()
    return hashlib.sha256(raw).hexdigest()


# -- accepting ------------------------------------------------------------------------


def _replay(key: str, digest: str) -> Accepted | None:
    earlier = list(
        TxMessage.objects.select_related("delivery")
        .filter(idempotency_key=key)
        .order_by("key_position")
    )
    if not earlier:
        return None
    if earlier[0].fingerprint != digest:
        raise IdempotencyConflict(
            gettext("the idempotency key %(key)s was used for another request (message %(pk)s)")
            % {"key": repr(key), "pk": earlier[0].pk}
        )
    return Accepted(earlier, duplicate=True)


def accept(request: TxRequest) -> Accepted:
    """Check the request and queue one message per recipient; InvalidInput changes nothing.

    The same idempotency key is accepted once: a replay of the same request
    answers with the messages it queued, another request with it is refused
    (IdempotencyConflict). Two racing requests with one key meet at the unique
    constraint, and the loser answers as a replay.
    """
    if not request.to:
        raise InvalidInput(gettext("give a recipient (`to`)"))
    if len(request.to) > MAX_RECIPIENTS:
        raise InvalidInput(
            gettext("%(count)s recipients: at most %(most)s in one request")
            % {"count": len(request.to), "most": MAX_RECIPIENTS}
        )
    key = (request.idempotency_key or "").strip() or None
    if key is not None and len(key) > 200:
        raise InvalidInput(gettext("the idempotency key is longer than 200 characters"))
    digest = fingerprint(request)
    # A replay is found by the unique key when it is inserted below: no look-up first,
    # so a new request (the usual case) costs no query for it.

    recipients = [mailbox(raw, "to") for raw in request.to]
    sender = _sender(request)
    from_email, from_name = _from(request, sender)
    headers = _headers(request.headers)
    attachments = _attachments(request.attachments)
    compiled = _compiled(request)
    emails = [e for e, _ in recipients]
    people: dict[str, dict[str, Any]] = {
        s["email"]: dict(s)
        for s in Subscriber.objects.filter(email__in=emails).values(
            "id", "email", "name", "attributes", "status"
        )
    }
    blocklisted = {e for e, p in people.items() if p["status"] == Subscriber.Status.BLOCKLISTED}
    blocked = blocked_reasons(emails, blocklisted)
    built = []
    for email, name in recipients:
        person = people.get(email)
        values = render.context(email, name or (person or {}).get("name", ""), request.data, person)
        built.append((email, name, person, render.render_for(compiled, values), blocked.get(email)))

    # Every row is made before the transaction, which then only writes them: the write
    # lock (SQLite's one, PostgreSQL's on the rows) is held as briefly as can be.
    now = timezone.now()
    creator = request.user if getattr(request.user, "pk", None) else None
    stream_id, waiting = stream_for(sender)
    rows = [
        Delivery(
            campaign_id=stream_id,
            email=email,
            state=Delivery.State.SKIPPED if block_reason else Delivery.State.PENDING,
            error=f"not sent: {block_reason}" if block_reason else "",
            updated_at=now if block_reason else None,
        )
        for email, _, _, _, block_reason in built
    ]
    messages = [
        TxMessage(
            to_email=email,
            to_name=name,
            subscriber_id=person["id"] if person else None,
            from_email=from_email,
            from_name=from_name,
            subject=parts.subject,
            html=parts.html,
            text=parts.text,
            headers=headers,
            message_id=message.new_message_id(from_email),
            template=request.template,
            data=request.data,
            idempotency_key=key,
            key_position=position,
            fingerprint=digest,
            source=request.source,
            created_by=creator,
            created_at=now,
        )
        for position, (email, name, person, parts, _) in enumerate(built)
    ]
    try:
        with transaction.atomic():
            Delivery.objects.bulk_create(rows)  # one INSERT per table, however many recipients
            for tx, row in zip(messages, rows, strict=True):
                tx.delivery = row
            TxMessage.objects.bulk_create(messages)
            TxAttachment.objects.bulk_create(
                [
                    TxAttachment(
                        message=tx,
                        filename=a.filename,
                        content_type=message.guess_type(a.filename, a.content_type),
                        data=a.data,
                        size=len(a.data),
                    )
                    for tx in messages
                    for a in attachments
                ]
            )
            # A stream with messages waiting has a worker on it (or one that looks within
            # a second, its longest sleep): the wake-up is for an idle one. Bumping that
            # one shared row on every message would queue all requests behind it.
            if not waiting:
                scheduler.notify()  # in the same commit: one write transaction per request
    except IntegrityError:
        if key is None:
            raise
        replay = _replay(key, digest)  # the other request won the key
        if replay is None:
            raise
        return replay
    return Accepted(messages)


# -- telling where it is --------------------------------------------------------------

STATUS = {
    Delivery.State.PENDING: "queued",
    Delivery.State.SENDING: "queued",
    Delivery.State.RETRY: "queued",
    Delivery.State.SENT: "sent",
    Delivery.State.FAILED: "failed",
    Delivery.State.SKIPPED: "failed",
    Delivery.State.IN_DOUBT: "in_doubt",
}


def status(tx: TxMessage) -> dict[str, Any]:
    """What GET /api/tx/{id} and `postroom tx status --json` print."""
    row = tx.delivery
    return {
        "id": tx.pk,
        "status": STATUS[Delivery.State(row.state)],
        "state": row.state,
        "to": tx.to_email,
        "subject": tx.subject,
        "template_id": tx.template_id,
        "sender": row.sender.name if row.sender_id and row.sender else None,
        "created_at": tx.created_at,
        "sent_at": row.sent_at,
        "attempts": row.attempts,
        "next_attempt_at": row.next_attempt_at if row.state == Delivery.State.RETRY else None,
        "reply": row.reply,
        "error": row.error,
        "message_id": tx.message_id,
        "idempotency_key": tx.idempotency_key,
    }


def log(status_name: str | None = None, query: str = "", before: int = 0):
    """Messages newest first, by status (queued, sent, failed, in_doubt) and recipient."""
    rows = TxMessage.objects.select_related("delivery", "delivery__sender").order_by("-pk")
    if status_name:
        states = [s for s, name in STATUS.items() if name == status_name]
        if not states:
            raise InvalidInput(
                gettext("unknown status %(status_name)s: use queued, sent, failed, in_doubt")
                % {"status_name": repr(status_name)}
            )
        rows = rows.filter(delivery__state__in=states)
    if query:
        rows = rows.filter(to_email__icontains=query.strip())
    if before:
        rows = rows.filter(pk__lt=before)
    return rows


def template_json(template: TxTemplate) -> dict[str, Any]:
    return {
        "id": template.pk,
        "name": template.name,
        "subject": template.subject,
        "body": template.body,
        "format": template.body_format,
        "layout": template.layout.name if template.layout_id and template.layout else None,
        "from_email": template.from_email,
        "sender": template.sender.name if template.sender_id and template.sender else None,
    }


def counts() -> dict[str, int]:
    """Messages by status, for the log's summary line (one GROUP BY over the streams)."""
    totals = dict.fromkeys(("queued", "sent", "failed", "in_doubt"), 0)
    rows = (
        Delivery.objects.filter(campaign__kind=Campaign.Kind.TRANSACTIONAL)
        .values_list("state")
        .annotate(n=Count("id"))
    )
    for state, n in rows:
        totals[STATUS[Delivery.State(state)]] += n
    return totals


def streams_in_doubt() -> list[tuple[Campaign, int]]:
    """Streams with messages in doubt: their delivery log is where those are settled."""
    streams = Campaign.objects.filter(kind=Campaign.Kind.TRANSACTIONAL).annotate(
        doubt=Count("deliveries", filter=Q(deliveries__state=Delivery.State.IN_DOUBT))
    )
    return [(s, s.doubt) for s in streams.select_related("sender") if s.doubt]
