"""CPU of the SMTP client alone: N messages of the bench campaign's size through one
SmtpPool (4 connections, the worker's journal) into Postfix's smtp-sink, in parts of 50
with 2 in flight as the worker hands them over; no database, no building.

    python bench/smtp_client.py [N]

Prints the process's CPU per message (the pool's thread: the caller only waits) and the
rate. To compare two versions on a shared host, run it from both checkouts in
alternating rounds in the same minutes.
"""

import sys
import tempfile
import time
from collections import deque
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from postroom.delivery.journal import WorkerJournal  # noqa: E402
from postroom.mail.smtp import OutgoingMessage, SmtpPool  # noqa: E402
from postroom.testing.smtpsink import SmtpSink  # noqa: E402

SIZE = 29_297  # bytes of one bench/send.py campaign message
PART, IN_FLIGHT = 50, 2


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    line = b"x" * 76 + b"\r\n"
    data = b"Subject: bench\r\n\r\n" + line * (SIZE // len(line))
    messages = [
        OutgoingMessage(i, f"news+{i}@example.org", f"r{i}@example.com", data, True, False)
        for i in range(count)
    ]
    with SmtpSink() as sink, tempfile.TemporaryDirectory() as tmp:
        journal = WorkerJournal(Path(tmp), "bench")
        pool = SmtpPool(sink.host, sink.port, max_connections=4, journal=journal)
        pool.send(messages[:100])  # connections open before the clock starts
        cpu, wall = time.process_time(), time.perf_counter()
        flight: deque = deque()
        accepted = 0
        for first in range(0, count, PART):
            flight.append(pool.submit(messages[first : first + PART]))
            if len(flight) >= IN_FLIGHT:
                accepted += sum(r.ok for r in flight.popleft().result())
        while flight:
            accepted += sum(r.ok for r in flight.popleft().result())
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        pool.close()
        journal.close()
    print(
        f"{accepted:,}/{count:,} accepted: {cpu * 1e6 / count:.1f} µs CPU/msg,"
        f" {count / wall:,.0f} msg/s"
    )


if __name__ == "__main__":
    main()
