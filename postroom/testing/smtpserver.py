"""A real SMTP server for tests, built on aiosmtpd, that can be told to misbehave.

    with CaptureServer(rcpt_reply={"bad@x.org": "550 5.1.1 no such user"}) as server:
        ...send to server.host, server.port...
        assert server.messages[0].rcpt_to == ["good@x.org"]

Fault injection, all matched on the lower-cased recipient address, where the
key "*" matches any recipient:

- `rcpt_reply`: always answer RCPT TO with this reply.
- `fail_first`: {address: (n, reply)} answers the first n RCPT TO with reply
  (a 421 reply also closes the connection, as real servers do).
- `data_reply`: answer the end of DATA with this reply instead of 250.
- `drop_data`: {address: n} hangs up without answering the end of DATA, n times.
- `mail_reply`: {sender: reply} answers MAIL FROM with this reply.
- `delay`: {"CONNECT" | "EHLO" | "MAIL" | "RCPT" | "DATA": seconds} before replying.
- `banner`: greet with this reply instead of 220 (e.g. "421 too busy"; a 421
  also closes the connection).
- `drop_before`: hang up on the next n DATA commands before the 354 reply, so
  the client never writes the final dot (nothing can have been accepted).
- `drop_after`: for the next n messages, receive the whole message, record it
  as accepted, then hang up without the 250: the reply lost on the wire.
- `pipelining=False` stops advertising PIPELINING; `auth_mechanisms` limits
  AUTH to e.g. ("LOGIN",); `disconnect_all()` hangs up on every client;
  `stop()` makes the port refuse connections; `refuse_connections()` does too
  and `accept_connections()` listens again on the same port (an outage).

It also runs as a subprocess, for crash tests that kill workers while the
server keeps counting:

    python -m postroom.testing.smtpserver --port 0 --record out.jsonl

prints "READY <host> <port>" once listening and appends one JSON line per
received message (time, envelope, Message-ID).

With `--control` it also obeys commands on stdin, to change its behaviour
while clients are connected (an outage, a 421 storm, a slow or dropping
server): see `postroom.testing.smtpcontrol`.

aiosmtpd tops out near 1,700 messages/s and uses a whole core: use it to check
behaviour, and Postfix's smtp-sink (`postroom.testing.smtpsink`) for speed.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import functools
import json
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AnyStr, TextIO, cast

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session, syntax

from postroom.testing import smtpcontrol

_MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*(.*?)\r?$", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class ReceivedMessage:
    mail_from: str
    rcpt_to: list[str]
    data: bytes
    received_at: float  # time.time()
    connection: int  # 1 for the server's first connection, 2 for the next...
    # The client had already sent the next commands when MAIL FROM arrived.
    pipelined: bool
    mail_options: list[str] = field(default_factory=list)

    @property
    def message_id(self) -> str | None:
        header_end = self.data.find(b"\r\n\r\n")
        match = _MESSAGE_ID.search(self.data, 0, header_end if header_end >= 0 else len(self.data))
        return match.group(1).decode("utf-8", "replace").strip() if match else None


@functools.cache
def self_signed_cert() -> tuple[str, str]:
    """A throwaway certificate for localhost/127.0.0.1, made once per process."""
    directory = tempfile.mkdtemp(prefix="postroom-smtp-cert-")
    atexit.register(shutil.rmtree, directory, True)
    cert, key = f"{directory}/cert.pem", f"{directory}/key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


class _Session(SMTP):
    """aiosmtpd's SMTP with connection counting, a slow/refusing greeting and 421 hang-ups."""

    def __init__(self, owner: CaptureServer, **kwargs: Any) -> None:
        super().__init__(owner, **kwargs)
        self.owner = owner
        self.number = 0
        self._greeted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self.transport is None:  # not the STARTTLS upgrade of an existing one
            # A TCP server's transports are stream transports, which can be aborted.
            self.number = self.owner._connected(cast(asyncio.Transport, transport))
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        transport = self._original_transport or self.transport
        if transport is not None:
            self.owner._transports.pop(cast(asyncio.Transport, transport), None)
        super().connection_lost(error)

    async def push(self, status: AnyStr) -> None:
        text = status if isinstance(status, str) else status.decode()
        if not self._greeted:
            self._greeted = True
            await self.owner._pause("CONNECT")
            text = self.owner.banner or text
        await super().push(text)
        if text.startswith("421") and self.transport is not None:
            self.transport.close()

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        if self.envelope is not None and self.envelope.rcpt_tos and self.owner._take("before"):
            if self.transport is not None:
                self.transport.close()  # before the 354: the client never sends the dot
            return
        await super().smtp_DATA(arg)


class CaptureServer:
    """An aiosmtpd server on a free loopback port, in its own thread."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        tls: str = "none",
        auth: dict[str, str] | None = None,
        auth_mechanisms: tuple[str, ...] = ("PLAIN", "LOGIN"),
        pipelining: bool = True,
        smtputf8: bool = True,
        eightbitmime: bool = True,
        banner: str | None = None,
        mail_reply: dict[str, str] | None = None,
        rcpt_reply: dict[str, str] | None = None,
        fail_first: dict[str, tuple[int, str]] | None = None,
        data_reply: dict[str, str] | None = None,
        drop_data: dict[str, int] | None = None,
        delay: dict[str, float] | None = None,
        record: str | Path | None = None,
    ) -> None:
        if tls not in ("none", "starttls", "tls"):
            raise ValueError(f"tls must be none, starttls or tls, not {tls!r}")
        self.host, self.port, self.tls = host, port, tls
        self.auth = auth
        self.auth_mechanisms = auth_mechanisms
        self.pipelining, self.smtputf8, self.eightbitmime = pipelining, smtputf8, eightbitmime
        self.banner = banner
        self.mail_reply = _lower_keys(mail_reply)
        self.rcpt_reply = _lower_keys(rcpt_reply)
        self.data_reply = _lower_keys(data_reply)
        # [answers left, reply], counted down as they are used.
        self.fail_first: dict[str, list[Any]] = {
            k.lower(): list(v) for k, v in (fail_first or {}).items()
        }
        self.drop_data = _lower_keys(drop_data)
        self.delay = delay or {}
        self.drop_before = self.drop_after = 0
        self.dropped: list[tuple[str, float]] = []  # ("before" | "after", time.time())
        self.connections = 0
        self.rcpt_attempts: Counter[str] = Counter()
        self._messages: list[ReceivedMessage] = []
        self._changed = threading.Condition()
        self._record: TextIO | None = open(record, "a") if record else None  # noqa: SIM115
        # Open connections and their numbers (so a caller can tell whose they are).
        self._transports: dict[asyncio.Transport, int] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None
        self._error: BaseException | None = None

    # -- lifecycle ----------------------------------------------------------

    def __enter__(self) -> CaptureServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self._thread.start()
        ready.wait(30)
        if self._error is not None:
            raise self._error

    def stop(self) -> None:
        """Close the listener and every open session: the port now refuses connections."""
        if self._thread is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)  # type: ignore[union-attr]
        self._thread.join()
        self._thread = None
        if self._record is not None:
            self._record.close()
            self._record = None

    def disconnect_all(self) -> None:
        """Hang up on every client without a word, as a server restart or idle timeout does."""
        self._in_loop(self._hang_up())

    def refuse_connections(self) -> None:
        """Close the port and every session (connections are refused) without stopping."""
        self._in_loop(self._close_listener())

    def accept_connections(self) -> None:
        """Listen again on the same port after `refuse_connections()`."""
        self._in_loop(self._open_listener())

    def _in_loop(self, coroutine: Any) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)  # type: ignore[arg-type]

    async def _hang_up(self) -> None:
        for transport in list(self._transports):
            transport.abort()

    async def _close_listener(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        await self._hang_up()

    async def _open_listener(self) -> None:
        if self._server is None:
            self._server = await self._loop.create_server(  # type: ignore[union-attr]
                self._factory,
                self.host,
                self.port,
                ssl=self.server_ssl_context() if self.tls == "tls" else None,
            )

    def _take(self, kind: str) -> bool:
        """Spend one of the `drop_before`/`drop_after` faults, if any is left."""
        with self._changed:
            left = getattr(self, f"drop_{kind}")
            if left <= 0:
                return False
            setattr(self, f"drop_{kind}", left - 1)
            self.dropped.append((kind, time.time()))
            return True

    def _run(self, ready: threading.Event) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        try:
            self._server = loop.run_until_complete(
                loop.create_server(
                    self._factory,
                    self.host,
                    self.port,
                    ssl=self.server_ssl_context() if self.tls == "tls" else None,
                )
            )
            self.port = self._server.sockets[0].getsockname()[1]
        except BaseException as e:
            self._error = e
            ready.set()
            return
        ready.set()
        loop.run_forever()
        if self._server is not None:
            self._server.close()
        for transport in list(self._transports):
            transport.abort()
        tasks = asyncio.all_tasks(loop)
        for task in tasks:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        loop.close()

    def _factory(self) -> SMTP:
        return _Session(
            self,
            hostname="capture.test",
            loop=self._loop,
            enable_SMTPUTF8=self.smtputf8,
            tls_context=self.server_ssl_context() if self.tls == "starttls" else None,
            authenticator=self._authenticate if self.auth else None,
            # AUTH is required by handle_MAIL instead: aiosmtpd warns when it
            # is required without TLS, which is exactly what plain tests do.
            auth_require_tls=self.tls != "none",
            auth_exclude_mechanism=[m for m in ("PLAIN", "LOGIN") if m not in self.auth_mechanisms],
        )

    def _connected(self, transport: asyncio.Transport) -> int:
        with self._changed:
            self.connections += 1
            self._transports[transport] = self.connections
            return self.connections

    # -- TLS ----------------------------------------------------------------

    @property
    def cert_path(self) -> str:
        return self_signed_cert()[0]

    def server_ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*self_signed_cert())
        return context

    def client_ssl_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts this server's certificate."""
        return ssl.create_default_context(cafile=self.cert_path)

    # -- what was received --------------------------------------------------

    @property
    def messages(self) -> list[ReceivedMessage]:
        with self._changed:
            return list(self._messages)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedMessage]:
        """Block until at least `count` messages arrived (or the timeout); return them all."""
        with self._changed:
            self._changed.wait_for(lambda: len(self._messages) >= count, timeout)
            return list(self._messages)

    # -- aiosmtpd hooks -----------------------------------------------------

    async def _pause(self, command: str) -> None:
        seconds = self.delay.get(command)
        if seconds:
            await asyncio.sleep(seconds)

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if isinstance(data, LoginPassword):
            login, password = data.login.decode(), data.password.decode()
            if self.auth and self.auth.get(login) == password:
                return AuthResult(success=True, auth_data=login)
        return AuthResult(success=False, handled=False)

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list
    ) -> list[str]:
        await self._pause("EHLO")
        session.host_name = hostname
        if not self.eightbitmime:
            responses = [r for r in responses if r != "250-8BITMIME"]
        if self.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        await self._pause("MAIL")
        if self.auth and not session.authenticated:
            return "530 5.7.0 Authentication required"
        # Bytes already waiting behind MAIL FROM mean the client did not wait
        # for this reply: it pipelined.
        session.pipelined = bool(server._reader._buffer)  # type: ignore[attr-defined]
        reply = self.mail_reply.get(address.lower())
        if reply:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 Ok"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        await self._pause("RCPT")
        key = address.lower()
        with self._changed:
            self.rcpt_attempts[key] += 1
            for rule_key in (key, "*"):
                rule = self.fail_first.get(rule_key)
                if rule and rule[0] > 0:
                    rule[0] -= 1
                    return rule[1]
        reply = self.rcpt_reply.get(key) or self.rcpt_reply.get("*")
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        await self._pause("DATA")
        recipients = [r.lower() for r in envelope.rcpt_tos]
        for key in [*recipients, "*"]:
            if self.drop_data.get(key, 0) > 0:
                self.drop_data[key] -= 1
                if server.transport is not None:
                    server.transport.close()
                await asyncio.Event().wait()  # cancelled when the connection goes
        for key in [*recipients, "*"]:
            if key in self.data_reply:
                return self.data_reply[key]
        drop = self._take("after")
        message = ReceivedMessage(
            mail_from=envelope.mail_from or "",
            rcpt_to=list(envelope.rcpt_tos),
            data=bytes(envelope.original_content or b""),
            received_at=time.time(),
            connection=server.number,  # type: ignore[attr-defined]
            pipelined=getattr(session, "pipelined", False),
            mail_options=list(envelope.mail_options),
        )
        with self._changed:
            self._messages.append(message)
            if self._record is not None:
                self._record.write(_record_line(message) + "\n")
                self._record.flush()
            self._changed.notify_all()
        if drop and server.transport is not None:  # accepted, but the client never hears it
            server.transport.close()
            await asyncio.Event().wait()  # cancelled when the connection goes
        return f"250 2.0.0 Ok: queued as {len(self._messages)}"


def _lower_keys(rules: dict[str, Any] | None) -> dict[str, Any]:
    return {k.lower(): v for k, v in (rules or {}).items()}


def _record_line(message: ReceivedMessage) -> str:
    return json.dumps(
        {
            "time": message.received_at,
            "mail_from": message.mail_from,
            "rcpt_to": message.rcpt_to,
            "message_id": message.message_id,
            "size": len(message.data),
            "connection": message.connection,
        }
    )


def _pairs(values: Iterable[str], flag: str) -> dict[str, str]:
    pairs = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep:
            raise SystemExit(f"{flag} expects KEY=VALUE, got {value!r}")
        pairs[key] = rest
    return pairs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m postroom.testing.smtpserver", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--record", help="append one JSON line per received message")
    parser.add_argument("--no-pipelining", action="store_true")
    parser.add_argument("--rcpt-reply", action="append", default=[], metavar="ADDRESS=REPLY")
    parser.add_argument("--data-reply", action="append", default=[], metavar="ADDRESS=REPLY")
    parser.add_argument("--fail-first", action="append", default=[], metavar="ADDRESS=N:REPLY")
    parser.add_argument("--drop-data", action="append", default=[], metavar="ADDRESS=N")
    parser.add_argument("--delay", action="append", default=[], metavar="COMMAND=SECONDS")
    parser.add_argument(
        "--control", action="store_true", help="obey commands on stdin (see smtpcontrol)"
    )
    args = parser.parse_args(argv)
    fail_first = {}
    for address, rule in _pairs(args.fail_first, "--fail-first").items():
        count, _, reply = rule.partition(":")
        fail_first[address] = (int(count), reply)
    server = CaptureServer(
        args.host,
        args.port,
        pipelining=not args.no_pipelining,
        rcpt_reply=_pairs(args.rcpt_reply, "--rcpt-reply"),
        data_reply=_pairs(args.data_reply, "--data-reply"),
        fail_first=fail_first,
        drop_data={k: int(v) for k, v in _pairs(args.drop_data, "--drop-data").items()},
        delay={k.upper(): float(v) for k, v in _pairs(args.delay, "--delay").items()},
        record=args.record,
    )
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    server.start()
    print(f"READY {server.host} {server.port}", flush=True)
    if args.control:
        threading.Thread(
            target=smtpcontrol.serve, args=(server, sys.stdin, sys.stdout, stopping), daemon=True
        ).start()
    stopping.wait()
    server.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
