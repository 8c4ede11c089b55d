"""Bounce mailboxes: IMAP or POP3 accounts the idle worker polls for bounces and complaints.

    poll_due()          # the worker's step: poll one mailbox whose time has come; True if it did
    poll(mailbox)       # poll one now ("Poll now" on the Bounces page, `postroom bounces poll`)

Each message read goes through tracking.bounces like a file or the webhook does
(source "mailbox:NAME"), and only once it is recorded is it moved to the
mailbox's `move_to` folder (IMAP) or deleted (IMAP or POP3): a worker killed in
between leaves it where it was, and reading it again records nothing twice
(bounces are fingerprinted). A mailbox that cannot be read keeps its last error
and time for the UI and is tried again at its next turn; the claim is a
conditional update, so two workers never poll the same mailbox at once.
"""

import contextlib
import imaplib
import logging
import poplib
import re
import socket
import ssl
from collections.abc import Iterator
from datetime import timedelta
from typing import Protocol

from django.core.exceptions import ValidationError
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext

from postroom import credentials
from postroom.errors import InvalidInput, PostroomError
from postroom.tracking import bounces
from postroom.tracking.models import BounceMailbox
from postroom.tracking.tls import tls_context

log = logging.getLogger(__name__)

# Messages read in one poll: a mailbox holding thousands is emptied over a few turns
# (one poll of 200 DSNs takes ~1 s here), so the idle worker is never held long.
BATCH = 200
TIMEOUT_SECONDS = 30
# A claim older than this is a worker that died mid-poll: another may take over.
CLAIM = timedelta(minutes=5)
# A failing mailbox is tried again after its interval, but at least this soon, so a
# fixed password shows in the UI within a minute without a click.
RETRY_AFTER = timedelta(seconds=60)


class MailboxError(PostroomError):
    """The mailbox could not be reached, logged into or read; the words say which."""


class Client(Protocol):
    def messages(self) -> Iterator[tuple[bytes, bytes]]: ...  # (key, raw message)
    def processed(self, keys: list[bytes]) -> None: ...
    def close(self) -> None: ...


# The usual port for each protocol and TLS mode, so an operator need not know them.
DEFAULT_PORTS = {
    ("imap", "tls"): 993,
    ("imap", "starttls"): 143,
    ("imap", "none"): 143,
    ("pop3", "tls"): 995,
    ("pop3", "starttls"): 110,
    ("pop3", "none"): 110,
}


def check(box: BounceMailbox) -> None:
    """Refuse a mailbox that could never be polled as configured (InvalidInput, nothing saved)."""
    if box.protocol == BounceMailbox.Protocol.POP3 and (
        box.processed != BounceMailbox.Processed.DELETE
    ):
        raise InvalidInput(
            gettext("POP3 has no folders: a POP3 mailbox must delete what it processed")
        )
    if box.processed == BounceMailbox.Processed.MOVE and not box.move_to.strip():
        raise InvalidInput(gettext("name the folder processed messages are moved to"))
    if box.processed == BounceMailbox.Processed.MOVE and box.move_to == box.folder:
        raise InvalidInput(
            gettext("the folder for processed messages must differ from the one read")
        )
    if not 10 <= box.interval_seconds <= 86400:
        raise InvalidInput(gettext("poll every 10 seconds to 86,400 seconds (a day)"))
    try:
        box.full_clean()
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise InvalidInput(
            gettext("%(field)s: %(messages)s") % {"field": field, "messages": " ".join(messages)}
        ) from None


def create_mailbox(**fields: object) -> BounceMailbox:
    """A new mailbox, polled from the next idle moment of a worker on."""
    if not fields.get("port"):
        fields["port"] = DEFAULT_PORTS[
            (str(fields.get("protocol", "imap")), str(fields.get("tls", "tls")))
        ]
    if BounceMailbox.objects.filter(name=fields.get("name")).exists():
        raise InvalidInput(
            gettext("a bounce mailbox named %(name)s exists already")
            % {"name": repr(fields.get("name"))}
        )
    box = BounceMailbox(**fields)
    check(box)
    box.password = credentials.seal(box.password)
    box.save()
    return box


def update_mailbox(box: BounceMailbox, **fields: object) -> BounceMailbox:
    """Change a mailbox; an empty password keeps the one stored (it is never shown back)."""
    if not fields.get("password"):
        fields.pop("password", None)
    if BounceMailbox.objects.filter(name=fields.get("name", box.name)).exclude(pk=box.pk).exists():
        raise InvalidInput(
            gettext("a bounce mailbox named %(name)s exists already")
            % {"name": repr(fields.get("name"))}
        )
    changed = BounceMailbox.objects.get(pk=box.pk)
    for name, value in fields.items():
        setattr(changed, name, value)
    check(changed)
    if "password" in fields:
        changed.password = credentials.seal(changed.password)
    changed.next_poll_at = timezone.now()  # try the new settings at once
    changed.save()
    return changed


def describe(box: BounceMailbox) -> dict[str, object]:
    """What the CLI and pages show of a mailbox: everything but the password."""
    return {
        "id": box.pk,
        "name": box.name,
        "protocol": box.protocol,
        "host": box.host,
        "port": box.port,
        "tls": box.tls,
        "username": box.username,
        "password_set": bool(box.password),
        "folder": box.folder,
        "processed": box.processed,
        "move_to": box.move_to,
        "sender": box.sender.name if box.sender is not None else None,
        "interval_seconds": box.interval_seconds,
        "enabled": box.enabled,
        "state": state(box),
        "last_polled_at": box.last_polled_at,
        "last_success_at": box.last_success_at,
        "last_error": box.last_error,
        "last_error_at": box.last_error_at,
        "next_poll_at": box.next_poll_at,
        "last_messages": box.last_messages,
        "total_messages": box.total_messages,
    }


def state(box: BounceMailbox) -> str:
    """off | never polled | polling | failing | ok."""
    if not box.enabled:
        return "off"
    if box.polling_until is not None and box.polling_until > timezone.now():
        return "polling"
    if box.failing:
        return "failing"
    return "ok" if box.last_success_at else "never polled"


def _text(data: object) -> str:
    if isinstance(data, list):
        data = b" ".join(d if isinstance(d, bytes) else str(d).encode() for d in data)
    if isinstance(data, bytes):
        return data.decode("utf-8", "replace")
    return str(data)


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


class ImapClient:
    def __init__(self, box: BounceMailbox) -> None:
        self.box = box
        context = tls_context(box.verify_certificate)
        if box.tls == BounceMailbox.Tls.TLS:
            self.imap: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                box.host, box.port, ssl_context=context, timeout=TIMEOUT_SECONDS
            )
        else:
            self.imap = imaplib.IMAP4(box.host, box.port, timeout=TIMEOUT_SECONDS)
            if box.tls == BounceMailbox.Tls.STARTTLS:
                self.imap.starttls(context)
        self.imap.login(box.username, credentials.unseal(box.password))
        status, data = self.imap.select(_quoted(box.folder))
        if status != "OK":
            raise MailboxError(
                gettext("folder %(folder)s: %(data)s")
                % {"folder": repr(box.folder), "data": _text(data)}
            )
        self.capabilities = set(self.imap.capabilities)
        if box.processed == BounceMailbox.Processed.MOVE:
            self.imap.create(_quoted(box.move_to))  # NO when it exists: that is fine

    def messages(self) -> Iterator[tuple[bytes, bytes]]:
        status, data = self.imap.uid("SEARCH", None, "ALL")  # type: ignore[arg-type]
        if status != "OK":
            raise MailboxError(gettext("search failed: %(data)s") % {"data": _text(data)})
        uids = (data[0] or b"").split()[:BATCH]
        for uid in uids:
            status, parts = self.imap.uid("FETCH", uid.decode(), "(BODY.PEEK[])")
            raw = next((p[1] for p in parts if isinstance(p, tuple) and len(p) > 1), None)
            if status == "OK" and isinstance(raw, bytes):
                yield uid, raw

    def processed(self, keys: list[bytes]) -> None:
        if not keys:
            return
        uids = b",".join(keys).decode()
        if self.box.processed == BounceMailbox.Processed.MOVE:
            if "MOVE" in self.capabilities:
                status, data = self.imap.uid("MOVE", uids, _quoted(self.box.move_to))
                if status != "OK":
                    raise MailboxError(
                        gettext("could not move to %(move_to)s: %(data)s")
                        % {"move_to": repr(self.box.move_to), "data": _text(data)}
                    )
                return
            status, data = self.imap.uid("COPY", uids, _quoted(self.box.move_to))
            if status != "OK":
                raise MailboxError(
                    gettext("could not copy to %(move_to)s: %(data)s")
                    % {"move_to": repr(self.box.move_to), "data": _text(data)}
                )
        self.imap.uid("STORE", uids, "+FLAGS.SILENT", r"(\Deleted)")
        self.imap.expunge()

    def close(self) -> None:
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            self.imap.logout()


class Pop3Client:
    def __init__(self, box: BounceMailbox) -> None:
        if box.processed != BounceMailbox.Processed.DELETE:
            raise InvalidInput(
                gettext("POP3 has no folders: a POP3 mailbox deletes what it processed")
            )
        context = tls_context(box.verify_certificate)
        if box.tls == BounceMailbox.Tls.TLS:
            self.pop: poplib.POP3 = poplib.POP3_SSL(
                box.host, box.port, context=context, timeout=TIMEOUT_SECONDS
            )
        else:
            self.pop = poplib.POP3(box.host, box.port, timeout=TIMEOUT_SECONDS)
            if box.tls == BounceMailbox.Tls.STARTTLS:
                self.pop.stls(context)
        self.pop.user(box.username)
        self.pop.pass_(credentials.unseal(box.password))

    def messages(self) -> Iterator[tuple[bytes, bytes]]:
        _, listing, _ = self.pop.list()
        for line in listing[:BATCH]:
            number = line.split()[0]
            _, lines, _ = self.pop.retr(int(number))
            yield number, b"\r\n".join(lines) + b"\r\n"

    def processed(self, keys: list[bytes]) -> None:
        for number in keys:
            self.pop.dele(int(number))
        # POP3 deletes only at QUIT: `close` sends it once the batch is recorded.

    def close(self) -> None:
        with contextlib.suppress(OSError, poplib.error_proto):
            self.pop.quit()


CLIENTS: dict[str, type[ImapClient] | type[Pop3Client]] = {
    BounceMailbox.Protocol.IMAP: ImapClient,
    BounceMailbox.Protocol.POP3: Pop3Client,
}


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return gettext("TLS certificate not trusted: %(reason)s") % {"reason": exc.verify_message}
    if isinstance(exc, socket.timeout | TimeoutError):
        return gettext("no answer within %(seconds)s s") % {"seconds": TIMEOUT_SECONDS}
    if isinstance(exc, ConnectionRefusedError):
        return gettext("connection refused")
    if isinstance(exc, imaplib.IMAP4.error | poplib.error_proto):
        return re.sub(r"^b'(.*)'$", r"\1", str(exc)) or gettext("refused")
    return str(exc) or type(exc).__name__


def poll(box: BounceMailbox) -> bounces.Summary:
    """Read up to BATCH messages, record each, then move or delete them; state saved for the UI.

    Raises MailboxError when the mailbox cannot be read (the error is on record too).
    """
    now = timezone.now()
    summary = bounces.Summary()
    client: Client | None = None
    try:
        try:
            client = CLIENTS[box.protocol](box)
            done: list[bytes] = []
            source = f"mailbox:{box.name}"
            for key, raw in client.messages():
                part = bounces.ingest_messages([raw], source=source)
                for name, value in part.as_dict().items():
                    setattr(summary, name, getattr(summary, name) + value)
                done.append(key)
            client.processed(done)
        finally:
            if client is not None:
                client.close()  # a POP3 mailbox deletes here, after everything was recorded
    except (OSError, imaplib.IMAP4.error, poplib.error_proto, PostroomError) as exc:
        error = f"{box.host}:{box.port}: {_error_text(exc)}"[:1000]
        BounceMailbox.objects.filter(pk=box.pk).update(
            last_polled_at=now,
            last_error=error,
            last_error_at=timezone.now(),
            polling_until=None,
            next_poll_at=now + min(timedelta(seconds=box.interval_seconds), RETRY_AFTER),
        )
        log.warning("bounce mailbox %s: %s", box.name, error)
        raise MailboxError(error) from exc
    more = summary.messages >= BATCH  # a full batch: there is probably more, go on soon
    BounceMailbox.objects.filter(pk=box.pk).update(
        last_polled_at=now,
        last_success_at=timezone.now(),
        last_messages=summary.messages,
        total_messages=F("total_messages") + summary.messages,
        polling_until=None,
        next_poll_at=now if more else now + timedelta(seconds=box.interval_seconds),
    )
    return summary


def claim_due() -> BounceMailbox | None:
    """One enabled mailbox whose turn has come, claimed so no other worker polls it too."""
    now = timezone.now()
    candidates = (
        BounceMailbox.objects.filter(enabled=True, next_poll_at__lte=now)
        .exclude(polling_until__gt=now)
        .order_by("next_poll_at", "id")
        .values_list("pk", "polling_until")
    )
    for pk, polling_until in candidates[:5]:
        claimed = BounceMailbox.objects.filter(pk=pk, polling_until=polling_until).update(
            polling_until=now + CLAIM
        )
        if claimed == 1:
            return BounceMailbox.objects.get(pk=pk)
    return None


def poll_due() -> bool:
    """The idle worker's step: poll one due mailbox; False when none was due."""
    box = claim_due()
    if box is None:
        return False
    with contextlib.suppress(MailboxError):  # on record for the UI; the worker goes on
        poll(box)
    return True
