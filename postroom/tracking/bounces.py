"""Bounces and complaints: reports parsed, matched to the delivery, acted on.

    summary = ingest_messages([raw_bytes, ...], source="webhook")

A report is a delivery status notification (RFC 3464, or one of the older
formats flufl.bounce knows: Exim, Postfix, qmail, …) or a complaint in the
Abuse Reporting Format (RFC 5965, `multipart/report; report-type=feedback-report`).

Kind: an RFC 3464 status 5.x.x is a hard bounce, 4.x.x a soft one (a failure
without a status is hard, because the reporting server gave up); a delay
warning ("Action: delayed") is not a bounce at all, since the message may
still arrive. Matching: the quoted Message-ID names campaign and subscriber
(`<campaign.subscriber.tag@domain>`, campaigns.mime); without it, the
recipient's latest delivery. Acting: a hard bounce or a complaint suppresses
the address at once, soft bounces when POSTROOM_SOFT_BOUNCE_LIMIT of them
arrive within POSTROOM_SOFT_BOUNCE_DAYS; the delivery row's error says why.
The same report ingested twice (a mailbox read again) is counted once.
"""

import email
import hashlib
import logging
import mailbox
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import timedelta
from email.message import Message
from email.utils import getaddresses, parseaddr
from pathlib import Path
from typing import BinaryIO, Protocol

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext
from flufl.bounce import all_failures

from postroom.audience import services
from postroom.audience.emails import normalize_email
from postroom.audience.models import Subscriber, Suppression
from postroom.delivery.models import Delivery
from postroom.errors import InvalidInput, NotFound
from postroom.tracking.links import default_signer
from postroom.tracking.models import Bounce
from postroom.webhooks.events import emit

log = logging.getLogger(__name__)

HARD, SOFT, COMPLAINT = "hard", "soft", "complaint"
_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_SMTP_CODE = re.compile(r"(?<![\d.])([245])\d\d(?=[\s-])")
_MESSAGE_ID_LINE = re.compile(r"^\s*Message-ID:\s*(<[^>\s]+>)", re.I | re.M)
_OUR_MESSAGE_ID = re.compile(r"<(\d+)\.(\d+)\.([a-z0-9]+)@[^>\s]+>")
# A test send's (mime.test_message_id): ours, but no ledger row is behind it.
_OUR_TEST_ID = re.compile(r"<test-[0-9a-f]+\.(\d+)\.(\d+)\.([a-z0-9]+)@[^>\s]+>")
# A VERP return path (delivery Sender.verp): local+b<campaign>-<subscriber>-<hex>@domain.
_VERP_ADDRESS = re.compile(r"\+(b\d{1,18}-\d{1,18}-[0-9a-f]{20})@", re.I)
_VERP_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To")
# What says a message is a failure notice at all, when its report cannot be read.
_NOTICE_FROM = re.compile(r"mailer-daemon|postmaster|mail delivery", re.I)
_NOTICE_SUBJECT = re.compile(
    r"undeliver|delivery (status|failure|failed|problem)|returned mail|failure notice"
    r"|could not be delivered|not delivered",
    re.I,
)
# Every mail message starts with a header field (`Name: value`, RFC 5322 2.2) or,
# in an mbox, a `From ` line.
_FIRST_HEADER = re.compile(rb"\A(From |[\x21-\x39\x3b-\x7e]+:)")


@dataclass(frozen=True)
class Report:
    """One address a bounce or complaint is about."""

    kind: str  # hard | soft | complaint
    email: str
    status: str = ""  # e.g. "5.1.1"
    reason: str = ""
    message_id: str = ""  # of the message that bounced, when the report quotes it


# --- parsing (no database) ---------------------------------------------------------------


def parse(raw: bytes) -> list[Report]:
    """The reports in one message; an empty list when it is neither a bounce nor a complaint."""
    return reports_in(email.message_from_bytes(raw))


def reports_in(msg: Message) -> list[Report]:
    if msg.get_content_type() == "multipart/report" and (
        str(msg.get_param("report-type", "")).lower() == "feedback-report"
    ):
        return _complaints(msg)
    return _bounces(msg)


def _header_blocks(part: Message) -> list[Message]:
    """The header blocks of a message/delivery-status or message/feedback-report part."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [block for block in payload if isinstance(block, Message)]
    if isinstance(payload, str):  # some parsers leave it as text: read it as headers
        return [email.message_from_string(block) for block in re.split(r"\n\s*\n", payload)]
    return []


def _one_line(text: str, limit: int = 500) -> str:
    return " ".join(str(text).split())[:limit]


def _address(value: str) -> str:
    """The address in an RFC 3464 recipient field (`rfc822; a@b`) or an address header."""
    value = str(value or "")
    if ";" in value:
        value = value.split(";", 1)[1]
    return parseaddr(value.strip())[1].strip().strip("<>")


def _original_message_ids(msg: Message) -> list[str]:
    """Message-IDs quoted by a report: attached messages, header parts, copied text."""
    found: list[str] = []
    for part in msg.walk():
        if part is msg:
            continue
        if part.get("Message-ID"):
            found.append(str(part["Message-ID"]).strip())
        if part.get_content_type() in ("text/rfc822-headers", "text/plain"):
            text = _text(part)
            found.extend(_MESSAGE_ID_LINE.findall(text))
    if not msg.is_multipart():
        found.extend(_MESSAGE_ID_LINE.findall(_text(msg)))
    ours = [mid for mid in found if _OUR_MESSAGE_ID.fullmatch(mid) or _OUR_TEST_ID.fullmatch(mid)]
    return ours or found


def _text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    return payload.decode(part.get_content_charset() or "utf-8", "replace")


def _body_text(msg: Message) -> str:
    """The human-readable text of a bounce, for formats without a status part."""
    for part in msg.walk():
        if part.get_content_type() == "text/plain":
            return _text(part)
    return ""


def enhanced_status(text: str) -> str:
    """The RFC 3463 enhanced status code in `text` (e.g. "5.1.1"), or "" when it has none."""
    match = _STATUS.search(text)
    return match.group() if match else ""


def status_in(text: str) -> str:
    """An RFC 3463 status from text, or one made from a bare SMTP reply code (550 → 5.0.0)."""
    if found := enhanced_status(text):
        return found
    code = _SMTP_CODE.search(text)
    return f"{code.group(1)}.0.0" if code else ""


def _kind(status: str) -> str:
    return SOFT if status.startswith("4") else HARD


def _bounces(msg: Message) -> list[Report]:
    message_ids = _original_message_ids(msg)
    message_id = message_ids[0] if message_ids else ""
    reports: dict[str, Report] = {}
    delayed: set[str] = set()
    for part in msg.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        for block in _header_blocks(part)[1:]:  # the first block is about the reporting MTA
            action = str(block.get("Action", "")).strip().lower()
            address = _address(
                block.get("Original-Recipient") or block.get("Final-Recipient") or ""
            )
            final = _address(block.get("Final-Recipient", ""))
            if not address:
                continue
            if not action.startswith(("failed", "error")):
                delayed.update({address.lower(), final.lower()})
                continue  # delayed, delivered, relayed, expanded: not a bounce
            diagnostic = _one_line(block.get("Diagnostic-Code", ""))
            status = _STATUS.search(str(block.get("Status", "")))
            code = status.group() if status else status_in(diagnostic)
            reason = diagnostic.split(";", 1)[-1].strip() if diagnostic else f"status {code}"
            reports[address.lower()] = Report(_kind(code), address, code, reason, message_id)
            if final:
                delayed.discard(final.lower())
                reports.setdefault(final.lower(), reports[address.lower()])
    try:
        _temporary, permanent = all_failures(msg)
    except Exception as exc:  # a detector choking on a strange message must not stop the others
        log.warning("flufl.bounce could not read a message (%s: %s)", type(exc).__name__, exc)
        permanent = frozenset()
    text = None
    for raw_address in sorted(permanent):
        address = raw_address.decode("ascii", "replace")
        if address.lower() in reports or address.lower() in delayed:
            continue
        if text is None:
            text = _body_text(msg)
        line = _line_about(text, address)
        code = status_in(line) or status_in(text)
        reason = _one_line(line) or (f"status {code}" if code else "reported as failed")
        reports[address.lower()] = Report(_kind(code), address, code, reason, message_id)
    unique: dict[int, Report] = {id(r): r for r in reports.values()}  # a final+original pair once
    return list(unique.values())


def _line_about(text: str, address: str) -> str:
    """The lines of a bounce text that speak about `address` and carry a reply code."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if address.lower() in line.lower():
            nearby = " ".join(lines[i : i + 3])
            if _STATUS.search(nearby) or _SMTP_CODE.search(nearby):
                return nearby
    for line in lines:
        if _STATUS.search(line):
            return line
    return ""


def _complaints(msg: Message) -> list[Report]:
    fields: Message | None = None
    original: Message | None = None
    for part in msg.walk():
        kind = part.get_content_type()
        if kind == "message/feedback-report" and fields is None:
            blocks = _header_blocks(part)
            fields = blocks[0] if blocks else None
        elif kind in ("message/rfc822", "text/rfc822-headers") and original is None:
            if kind == "text/rfc822-headers":
                original = email.message_from_string(_text(part))
            else:
                inner = part.get_payload()
                first = inner[0] if isinstance(inner, list) and inner else None
                original = first if isinstance(first, Message) else None
    fields = fields or Message()
    addresses = [_address(a) for a in fields.get_all("Original-Rcpt-To", [])]
    if not any(addresses) and original is not None:
        addresses = [a for _, a in getaddresses(original.get_all("To", []))]
    feedback = _one_line(fields.get("Feedback-Type", "abuse")) or "abuse"
    agent = _one_line(fields.get("User-Agent", ""), 100)
    reason = f"{feedback} report" + (f" from {agent}" if agent else "")
    message_id = str(original.get("Message-ID", "")).strip() if original is not None else ""
    message_id = message_id or next(iter(_original_message_ids(msg)), "")
    addresses = [a for a in dict.fromkeys(addresses) if a and "@" in a]
    if not addresses and message_id:
        addresses = [""]  # a redacted report: the Message-ID alone names the recipient
    return [Report(COMPLAINT, a, "", reason, message_id) for a in addresses]


# --- acting on reports ------------------------------------------------------------------


@dataclass
class Summary:
    messages: int = 0
    bounces: int = 0  # reports recorded
    hard: int = 0
    soft: int = 0
    complaints: int = 0
    duplicates: int = 0  # reports seen before
    unrecognised: int = 0  # messages that were neither a bounce nor a complaint
    suppressed: int = 0  # addresses suppressed by these reports

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def our_ids(message_id: str) -> tuple[int, int] | None:
    """(campaign id, subscriber id) from a Message-ID this installation made, else None."""

    match = _OUR_MESSAGE_ID.fullmatch(message_id.strip())
    if not match or match.group(3) != default_signer().install_tag:
        return None
    return int(match.group(1)), int(match.group(2))


def _normalised(address: str) -> str:
    try:
        return normalize_email(address)
    except InvalidInput:
        return address.strip().lower()


def verp_ids(msg: Message) -> tuple[int, int] | None:
    """(campaign, subscriber) from the VERP address a bounce was delivered to, if genuine."""

    for name in _VERP_HEADERS:
        for value in msg.get_all(name, []):
            for tag in _VERP_ADDRESS.findall(str(value)):
                ids = default_signer().verp_ids(tag)
                if ids is not None:
                    return ids
    return None


def _mangled_notice(msg: Message) -> Report | None:
    """A failure notice to a VERP address whose report nothing could read: its recipient is
    known from the address, its kind from the first status in the text (hard without one)."""
    if not (
        _NOTICE_FROM.search(str(msg.get("From", "")))
        or _NOTICE_SUBJECT.search(str(msg.get("Subject", "")))
    ):
        return None
    text = _body_text(msg) or _text(msg)
    code = status_in(text)
    line = _line_about(text, "@") if code else ""
    reason = _one_line(line) or "a failure notice to the VERP return path (its report unreadable)"
    return Report(_kind(code), "", code, reason, "")


def _delivery_for(report: Report, ids: tuple[int, int] | None = None):
    if ids is not None:  # the VERP address names the delivery, whatever the report says
        found = Delivery.objects.filter(campaign_id=ids[0], subscriber_id=ids[1]).first()
        if found is not None:
            return found
    if report.message_id and _OUR_TEST_ID.fullmatch(report.message_id.strip()):
        return None  # a test send: the address bounced, but no campaign delivery did
    ids = our_ids(report.message_id) if report.message_id else None
    if ids is not None:
        found = Delivery.objects.filter(campaign_id=ids[0], subscriber_id=ids[1]).first()
        if found is not None:
            return found
    subscriber = (
        Subscriber.objects.filter(email=_normalised(report.email)).first() if report.email else None
    )
    if subscriber is None:
        return None
    # The subscriber's latest delivery (the foreign key is indexed; the address is not).
    return Delivery.objects.filter(subscriber=subscriber).order_by("-id").first()


def _fingerprint(raw: bytes, msg_id: str, report: Report) -> str:
    origin = msg_id or hashlib.sha256(raw).hexdigest()
    key = f"{origin}\0{report.kind}\0{report.email.lower()}"
    return hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()


def _emit(report: Report, address: str, subscriber_id: int | None, delivery) -> None:
    """The bounced / complained webhook event, once per report (duplicates never get here)."""
    kind = "subscriber.complained" if report.kind == COMPLAINT else "subscriber.bounced"
    emit(
        kind,
        {
            "email": address,
            "subscriber_id": subscriber_id,
            "kind": report.kind,
            "status": report.status,
            "reason": report.reason[:500],
            "campaign_id": delivery.campaign_id if delivery is not None else None,
        },
    )


def record(
    report: Report,
    fingerprint: str,
    source: str,
    summary: Summary,
    raw: str = "",
    ids: tuple[int, int] | None = None,
) -> None:
    """Store one report and act on it: suppression, the delivery row's error.

    `raw` is the report as it came (a DSN, a provider's JSON event), kept for the Bounces page;
    `ids` are (campaign, subscriber) from a VERP return path.
    """

    delivery = _delivery_for(report, ids)
    if delivery is None and not report.email:
        summary.unrecognised += 1
        return
    address = delivery.email if delivery is not None else _normalised(report.email)
    subscriber_id = delivery.subscriber_id if delivery is not None else None
    if subscriber_id is None:
        subscriber_id = (
            Subscriber.objects.filter(email=address).values_list("pk", flat=True).first()
        )
    _, created = Bounce.objects.get_or_create(
        fingerprint=fingerprint,
        defaults={
            "email": address,
            "subscriber_id": subscriber_id,
            "campaign_id": delivery.campaign_id if delivery is not None else None,
            "delivery": delivery,
            "kind": report.kind,
            "status": report.status[:16],
            "reason": report.reason[:1000],
            "source": source[:64],
            "raw": raw[: Bounce.RAW_LIMIT],
        },
    )
    if not created:
        summary.duplicates += 1
        return
    summary.bounces += 1
    _emit(report, address, subscriber_id, delivery)
    counter = {HARD: "hard", SOFT: "soft", COMPLAINT: "complaints"}[report.kind]
    setattr(summary, counter, getattr(summary, counter) + 1)

    suppress_reason = None
    if report.kind == HARD:
        suppress_reason, why = Suppression.Reason.BOUNCED, "hard bounce"
    elif report.kind == COMPLAINT:
        suppress_reason, why = Suppression.Reason.COMPLAINED, "complaint"
    else:
        since = timezone.now() - timedelta(days=settings.POSTROOM_SOFT_BOUNCE_DAYS)
        count = Bounce.objects.filter(
            email=address,
            kind=SOFT,
            at__gte=since,
            lifted_at__isnull=True,  # lifted: forgiven
        ).count()
        if count >= settings.POSTROOM_SOFT_BOUNCE_LIMIT:
            suppress_reason, why = Suppression.Reason.BOUNCED, f"{count} soft bounces"
    if suppress_reason is not None:
        services.suppress(address, suppress_reason, source=why)
        summary.suppressed += 1
        if report.kind == COMPLAINT and subscriber_id is not None:
            # Leave every list too, so list counts tell the truth; the reason stays "complained".
            services.unsubscribe(Subscriber.objects.get(pk=subscriber_id), None, "complaint")
    if delivery is not None:
        label = {HARD: "hard bounce", SOFT: "soft bounce", COMPLAINT: "complaint"}[report.kind]
        status = f" {report.status}" if report.status else ""
        delivery.error = f"{label}{status}: {report.reason}"[:1000]
        type(delivery).objects.filter(pk=delivery.pk).update(error=delivery.error)


def ingest_messages(messages: Iterable[bytes], source: str) -> Summary:
    """Parse, record and act on each message; one message's trouble never undoes another's."""
    summary = Summary()
    for raw in messages:
        summary.messages += 1
        msg = email.message_from_bytes(raw)
        try:
            reports = reports_in(msg)
        except Exception as exc:  # a malformed message is skipped, not fatal to the rest
            log.warning("could not parse a bounce message (%s: %s)", type(exc).__name__, exc)
            reports = []
        ids = verp_ids(msg)
        if not reports and ids is not None:
            mangled = _mangled_notice(msg)
            reports = [mangled] if mangled is not None else []
        if not reports:
            summary.unrecognised += 1
            continue
        if ids is not None and len(reports) > 1:
            reports = reports[:1]  # a VERP address is about one recipient
        own_id = str(msg.get("Message-ID", "")).strip()
        text = raw[:200_000].decode("utf-8", "replace")
        with transaction.atomic():
            for report in reports:
                record(report, _fingerprint(raw, own_id, report), source, summary, text, ids)
    return summary


class ProviderEvent(Protocol):
    """A report a provider webhook delivered (tracking.providers.base.Event)."""

    report: Report
    key: str  # unique at the provider: the same event delivered twice is recorded once
    raw: str


def ingest_events(events: Iterable[ProviderEvent], source: str) -> Summary:
    """Record and act on the reports of one webhook request, all or nothing."""
    summary = Summary()
    with transaction.atomic():
        for event in events:
            summary.messages += 1
            fingerprint = _fingerprint(b"", event.key, event.report)
            record(event.report, fingerprint, source, summary, event.raw)
    return summary


# --- where messages come from -----------------------------------------------------------


def _mbox_messages(path: Path) -> Iterator[bytes]:
    box = mailbox.mbox(path, create=False)
    try:
        for key in box.iterkeys():
            yield box.get_bytes(key)
    finally:
        box.close()


def is_message(raw: bytes) -> bool:
    """Whether `raw` can be a mail message at all: a header first, no NUL byte in its head."""
    return bool(_FIRST_HEADER.match(raw)) and b"\x00" not in raw[:65536]


def _one_message(raw: bytes, where: str) -> bytes:
    """A file or stdin given alone must be a message; a binary file is refused as a whole."""
    if not is_message(raw):
        raise InvalidInput(
            gettext(
                "%(where)s is not an email message (give an mbox, a Maildir, a folder of .eml "
                "files, or one .eml file)"
            )
            % {"where": where}
        )
    return raw


def messages_at(location: str, stdin: BinaryIO | None = None) -> Iterator[bytes]:
    """Raw messages from an mbox file, a Maildir, a folder of .eml files, one file, or `-`.

    Nothing is moved or deleted: reading a mailbox again records nothing twice.
    """
    if location == "-":
        data = stdin.read() if stdin is not None else b""
        if not data.startswith(b"From "):
            yield _one_message(data, "standard input")
            return
        with tempfile.NamedTemporaryFile(suffix=".mbox") as handle:
            handle.write(data)
            handle.flush()
            yield from _mbox_messages(Path(handle.name))
        return
    path = Path(location)
    if path.is_dir():
        if (path / "cur").is_dir() or (path / "new").is_dir():
            box = mailbox.Maildir(path, factory=None, create=False)
            for key in sorted(box.iterkeys()):
                yield box.get_bytes(key)
            return
        for file in sorted(path.iterdir()):
            if file.is_file() and not file.name.startswith("."):
                yield file.read_bytes()
        return
    if not path.is_file():
        raise NotFound(gettext("%(location)s: no such file or folder") % {"location": location})
    with path.open("rb") as handle:
        mbox = handle.read(5) == b"From "
    if mbox:
        yield from _mbox_messages(path)
    else:
        yield _one_message(path.read_bytes(), location)
