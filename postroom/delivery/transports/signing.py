"""A transport that DKIM-signs each message just before handing it to the sender's transport."""

import concurrent.futures
import dataclasses
import time

from postroom.delivery.transports.base import Transport, done
from postroom.errors import InvalidInput
from postroom.mail.dkim import DkimSetup, Signer, signer_for
from postroom.mail.smtp import CheckReport, OutgoingMessage, SmtpError


class SigningTransport:
    """Wraps a sender's transport and signs each message once, just before it is handed over.

    A key that cannot be loaded fails every message as a sender-level error, so
    the campaigns wait with that reason instead of sending unsigned; each try
    loads the key again, so putting the file back is enough.
    """

    def __init__(self, inner: Transport, sender: DkimSetup) -> None:
        self.inner = inner
        self.sender = sender
        self.error = ""
        self.signer: Signer | None = None
        self._load()

    def _load(self) -> None:
        try:
            self.signer = signer_for(self.sender)
        except InvalidInput as exc:
            self.error = str(exc)

    def submit(
        self, messages: list[OutgoingMessage], campaign_id: int | None = None
    ) -> concurrent.futures.Future:
        if self.signer is None:
            self._load()
        if self.signer is None:
            error = SmtpError("dkim", f"cannot sign: {self.error}")
            return done([error.result(m.key) for m in messages])
        sign = self.signer.sign
        now = time.time()
        signed = [dataclasses.replace(m, data=sign(m.data, now)) for m in messages]
        return self.inner.submit(signed, campaign_id)

    def check(self) -> CheckReport:
        if self.signer is None:
            return CheckReport(False, "dkim", self.error)
        return self.inner.check()

    def close(self) -> None:
        self.inner.close()
