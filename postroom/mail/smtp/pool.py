"""Persistent SMTP connections behind a synchronous facade.

The delivery worker is plain synchronous Django code. The pool owns one
background thread running an asyncio loop and up to `max_connections` open
sessions, opened lazily and kept between calls, so a campaign pays the
connect/TLS/AUTH cost once per connection rather than once per batch.
`submit()` returns at once, so the worker renders the next batch while this
one is on the wire.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from postroom.mail.smtp.client import (
    ServerSettings,
    SmtpConnection,
    make_ssl_context,
    never_answered,
)
from postroom.mail.smtp.journal import Journal
from postroom.mail.smtp.replies import OutgoingMessage, SendResult, SmtpError


@dataclass
class CheckReport:
    """The answer to "test connection": which step failed, or what the server said."""

    ok: bool
    step: str  # dns, connect, tls, auth; "ok" on success
    message: str
    banner: str = ""
    ehlo: str = ""
    extensions: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


class _Batch:
    """One send() call: a shared queue the pool's connections pull from."""

    def __init__(self, messages: list[OutgoingMessage]) -> None:
        self.messages = messages
        self.queue: deque[int] = deque(range(len(messages)))
        self.results: list[SendResult | None] = [None] * len(messages)
        self.retried: set[int] = set()
        self.running = 0

    def take(self) -> tuple[int, OutgoingMessage] | None:
        if not self.queue:
            return None
        index = self.queue.popleft()
        return index, self.messages[index]

    def report(self, index: int, result: SendResult) -> None:
        # A message the server never answered (a stale pooled connection, or
        # one pulled ahead when the server hung up) gets one more go on a
        # fresh connection before its error counts.
        if never_answered(result) and index not in self.retried:
            self.retried.add(index)
            self.queue.appendleft(index)
            return
        self.results[index] = result

    def fail_rest(self, error: SmtpError) -> None:
        while self.queue:
            index = self.queue.popleft()
            self.results[index] = error.result(self.messages[index].key)


class SmtpPool:
    """Pooled, reused SMTP sessions to one server, usable from synchronous code."""

    def __init__(
        self,
        host: str,
        port: int,
        tls: str = "none",
        username: str | None = None,
        password: str | None = None,
        max_connections: int = 4,
        timeout: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
        verify_tls: bool = True,
        journal: Journal | None = None,
    ) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        if tls != "none" and ssl_context is None:
            # Built once: loading the CA bundle costs milliseconds per context.
            ssl_context = make_ssl_context(verify_tls)
        self.settings = ServerSettings(
            host, port, tls, username, password, timeout, ssl_context, local_hostname
        )
        self.max_connections = max_connections
        self.journal = journal  # told of every final dot and its reply (see smtp.journal)
        self.connections_opened = 0
        self._idle: list[SmtpConnection] = []
        self._slots = asyncio.Semaphore(max_connections)
        self._closed = False
        self._pending: set[concurrent.futures.Future] = set()
        self._pending_lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name=f"smtp-pool {host}:{port}", daemon=True
        )
        self._thread.start()

    def __enter__(self) -> SmtpPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- public, synchronous ------------------------------------------------

    def submit(self, messages: Iterable[OutgoingMessage]) -> concurrent.futures.Future:
        """Start sending; the future's result is one SendResult per message, in order."""
        if self._closed:
            raise RuntimeError("SmtpPool is closed")
        future = asyncio.run_coroutine_threadsafe(self._send(list(messages)), self._loop)
        with self._pending_lock:
            self._pending.add(future)
        future.add_done_callback(self._forget)
        return future

    def _forget(self, future: concurrent.futures.Future) -> None:
        with self._pending_lock:
            self._pending.discard(future)

    def send(self, messages: Iterable[OutgoingMessage]) -> list[SendResult]:
        """Send and wait: one SendResult per message, in the order given."""
        return self.submit(messages).result()

    def check(self) -> CheckReport:
        """Go through DNS, connect, TLS and AUTH once and report the first step that fails."""
        if self._closed:
            raise RuntimeError("SmtpPool is closed")
        return asyncio.run_coroutine_threadsafe(check(self.settings), self._loop).result()

    def close(self) -> None:
        """Let batches in flight finish, QUIT every connection and stop the background thread."""
        if self._closed:
            return
        self._closed = True
        with self._pending_lock:
            pending = list(self._pending)
        concurrent.futures.wait(pending)
        asyncio.run_coroutine_threadsafe(self._close_idle(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    # -- on the loop --------------------------------------------------------

    async def _send(self, messages: list[OutgoingMessage]) -> list[SendResult]:
        batch = _Batch(messages)
        workers = min(self.max_connections, len(messages))
        batch.running = workers
        await asyncio.gather(*(self._worker(batch) for _ in range(workers)))
        return batch.results  # type: ignore[return-value]

    async def _worker(self, batch: _Batch) -> None:
        try:
            while batch.queue:
                try:
                    connection = await self._acquire()
                except SmtpError as error:
                    # While another connection of this batch still works, it
                    # carries on with the queue; the last one standing fails it.
                    if batch.running == 1:
                        batch.fail_rest(error)
                    return
                try:
                    await connection.send_from(batch.take, batch.report)
                finally:
                    self._release(connection)
        finally:
            batch.running -= 1

    async def _acquire(self) -> SmtpConnection:
        await self._slots.acquire()
        try:
            while self._idle:
                connection = self._idle.pop()
                if connection.usable:
                    return connection
            connection = SmtpConnection(self.settings, self.journal)
            self.connections_opened += 1
            await connection.open()
            return connection
        except BaseException:
            self._slots.release()
            raise

    def _release(self, connection: SmtpConnection) -> None:
        if connection.usable and not self._closed:
            self._idle.append(connection)
        else:
            connection.close()
        self._slots.release()

    async def _close_idle(self) -> None:
        while self._idle:
            self._idle.pop().close()
        await asyncio.sleep(0)  # let the transports flush QUIT


async def check(settings: ServerSettings) -> CheckReport:
    """Open one session step by step, then QUIT; never raises for server trouble."""
    started = time.monotonic()
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(settings.timeout):
            await loop.getaddrinfo(settings.host, settings.port, type=socket.SOCK_STREAM)
    except (OSError, TimeoutError, UnicodeError) as e:
        reason = getattr(e, "strerror", None) or (
            "not a valid host name" if isinstance(e, UnicodeError) else "timed out"
        )
        return CheckReport(
            False, "dns", f"DNS lookup failed for {settings.host}: {reason}",
            seconds=time.monotonic() - started,
        )  # fmt: skip
    connection = SmtpConnection(settings)
    try:
        await connection.open()
    except SmtpError as e:
        return CheckReport(
            False,
            e.stage,
            e.message,
            banner=str(connection.banner or ""),
            ehlo=str(connection.ehlo or ""),
            extensions=connection.extensions,
            seconds=time.monotonic() - started,
        )
    connection.close()
    return CheckReport(
        True,
        "ok",
        f"connected to {settings.host}:{settings.port}"
        + (f" as {settings.username}" if settings.username else ""),
        banner=str(connection.banner),
        ehlo=str(connection.ehlo),
        extensions=connection.extensions,
        seconds=time.monotonic() - started,
    )
