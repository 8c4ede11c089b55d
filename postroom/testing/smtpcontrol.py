"""Commands that change a running `python -m postroom.testing.smtpserver --control`.

The server reads them on stdin, one a line, and answers each with one line on
stdout once it has taken effect — "OK ..." or "ERR why" — so the caller knows
the moment a fault began or ended. EOF on stdin stops the server, so it never
outlives the process that drives it (tests/delivery/processes.py's
`RecordingServer.control`, bench/faults.py).

    refuse                    close the port and hang up on everyone: an outage
                              (connections are refused until `accept`)
    accept                    listen again on the same port
    banner REPLY              greet with REPLY, e.g. "banner 421 4.3.2 busy" (a 421
                              also hangs up); "banner off" greets with 220 again
    delay COMMAND SECONDS     wait before replying to CONNECT|EHLO|MAIL|RCPT|DATA
                              (DATA: after the final dot, before the 250); 0 is none
    drop-before N             the next N DATA commands: hang up before the 354, so
                              the client never writes the dot (nothing accepted)
    drop-after N              the next N messages: receive and record them, then
                              hang up before the 250 (accepted, reply lost)
    disconnect                hang up on every open connection
    stats                     OK {"connections": total so far, "open": now,
                              "received": messages, "dropped": [[kind, time]...],
                              "peers": {client port: connection number} of the open ones}
"""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from postroom.testing.smtpserver import CaptureServer

COMMANDS = ("CONNECT", "EHLO", "MAIL", "RCPT", "DATA")


def apply(server: CaptureServer, line: str) -> str:
    """Carry out one command line; the answer line (without newline)."""
    word, _, rest = line.strip().partition(" ")
    rest = rest.strip()
    try:
        if word == "refuse":
            server.refuse_connections()
        elif word == "accept":
            server.accept_connections()
        elif word == "banner":
            if not rest:
                return "ERR banner needs a reply, e.g. 'banner 421 4.3.2 busy', or 'off'"
            server.banner = None if rest == "off" else rest
        elif word == "delay":
            command, _, seconds = rest.upper().partition(" ")
            if command not in COMMANDS:
                return f"ERR delay needs one of {', '.join(COMMANDS)} and seconds"
            server.delay[command] = float(seconds)
        elif word in ("drop-before", "drop-after"):
            with server._changed:
                setattr(server, word.replace("-", "_"), int(rest))
        elif word == "disconnect":
            server.disconnect_all()
        elif word == "stats":
            return "OK " + json.dumps(stats(server))
        else:
            return f"ERR unknown command {word!r}"
    except ValueError as e:
        return f"ERR {word}: {e}"
    return f"OK {line.strip()}"


def stats(server: CaptureServer) -> dict:
    with server._changed:
        return {
            "connections": server.connections,
            "open": len(server._transports),
            "received": len(server._messages),
            "dropped": list(server.dropped),
            "peers": {
                (t.get_extra_info("peername") or ("", 0))[1]: n
                for t, n in list(server._transports.items())
            },
        }


def serve(server: CaptureServer, commands: TextIO, answers: TextIO, stop: threading.Event) -> None:
    """Obey `commands` until EOF, then set `stop`."""
    for line in commands:
        if line.strip():
            answers.write(apply(server, line) + "\n")
            answers.flush()
    stop.set()
