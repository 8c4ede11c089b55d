"""A transport that DKIM-signs each message just before handing it to the sender's transport.

An RSA-2048 signature costs ~0.4 ms and the relaxed body hash of a 29 KB
message ~0.2 ms more: signed in the worker's own thread, that was more than
the rest of the message's work (bench/send.py: 546 msg/s signed against 1,079
unsigned, one worker on SQLite). So parts of at least POOL_MIN messages are
signed in a small pool of processes (SIGNING_PROCESSES, spawned: they import
only the Django-free signer), while the worker renders the next batch; the
signed part goes to the inner transport as soon as it comes back. Smaller
parts (test sends, alerts, a probe) are signed inline: a round trip to the
pool would cost more than the signature.
"""

import concurrent.futures
import dataclasses
import multiprocessing
import os
import threading
import time

from postroom.delivery.transports.base import Transport, done
from postroom.errors import InvalidInput
from postroom.mail.dkim import DkimSetup, Signer, sign_all, signer_for
from postroom.mail.smtp import CONNECT, CheckReport, OutgoingMessage, SendResult, SmtpError

POOL_MIN = 8
SIGNING_PROCESSES = max(1, min(2, os.cpu_count() or 1))

_pool: concurrent.futures.ProcessPoolExecutor | None = None
_pool_lock = threading.Lock()


def _signing_pool() -> concurrent.futures.ProcessPoolExecutor:
    """One pool per worker process, started on the first big signed part."""
    global _pool
    with _pool_lock:
        if _pool is None:
            context = multiprocessing.get_context("spawn")  # never fork a threaded worker
            _pool = concurrent.futures.ProcessPoolExecutor(SIGNING_PROCESSES, mp_context=context)
        return _pool


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
        signer = self.signer
        if signer is None:
            error = SmtpError("dkim", f"cannot sign: {self.error}")
            return done([error.result(m.key) for m in messages])
        now = time.time()
        if len(messages) < POOL_MIN:
            signed = [dataclasses.replace(m, data=signer.sign(m.data, now)) for m in messages]
            return self.inner.submit(signed, campaign_id)
        outer: concurrent.futures.Future = concurrent.futures.Future()
        signing = _signing_pool().submit(
            sign_all,
            signer.domain,
            signer.selector,
            self.sender.dkim_key_file,
            [m.data for m in messages],
            now,
        )
        signing.add_done_callback(lambda f: self._hand_on(f, messages, campaign_id, outer))
        return outer

    def _hand_on(
        self,
        signing: concurrent.futures.Future,
        messages: list[OutgoingMessage],
        campaign_id: int | None,
        outer: concurrent.futures.Future,
    ) -> None:
        """Give the signed part to the inner transport; its results become `outer`'s.

        Nothing reached the server before this, so every failure here is the
        sender's (no attempt spent, nothing in doubt), as when `submit` fails.
        """
        try:
            datas = signing.result()
        except Exception as exc:  # a pool process died, or the key went away meanwhile
            outer.set_result(_failed(messages, SmtpError("dkim", f"cannot sign: {exc}")))
            return
        signed = [dataclasses.replace(m, data=d) for m, d in zip(messages, datas, strict=True)]
        try:
            sending = self.inner.submit(signed, campaign_id)
        except SmtpError as exc:
            outer.set_result(_failed(messages, exc))
            return
        except Exception as exc:
            outer.set_result(_failed(messages, SmtpError(CONNECT, f"the transport failed: {exc}")))
            return
        sending.add_done_callback(lambda f: _copy(f, outer))

    def check(self) -> CheckReport:
        if self.signer is None:
            return CheckReport(False, "dkim", self.error)
        return self.inner.check()

    def close(self) -> None:
        self.inner.close()


def _failed(messages: list[OutgoingMessage], error: SmtpError) -> list[SendResult]:
    return [error.result(m.key) for m in messages]


def _copy(source: concurrent.futures.Future, target: concurrent.futures.Future) -> None:
    try:
        target.set_result(source.result())
    except Exception as exc:
        target.set_exception(exc)
