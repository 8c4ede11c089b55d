"""SMTP transport throughput: our pipelining pool vs stdlib smtplib, into smtp-sink.

    python bench/smtp_client.py [--messages 50000] [--size 10240]

Sends pre-built ~10 KB messages to Postfix's smtp-sink on loopback and prints
messages/s and client CPU per message (process CPU time, so the pool's
background thread is included; smtp-sink's own CPU is not). The pool is driven
the way the delivery worker drives it: batches of --batch messages, the next
one submitted while the previous is on the wire.

The machine is small and shared: figures move by 10-20% between runs.
"""

from __future__ import annotations

import argparse
import smtplib
import threading
import time
from collections.abc import Callable

from postroom.mail.smtp import OutgoingMessage, SmtpPool
from postroom.testing.smtpsink import SmtpSink


def build_messages(count: int, size: int) -> list[OutgoingMessage]:
    """Distinct messages of about `size` bytes (they are cycled when more are sent)."""
    line = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod.\r\n"
    body = line * max(1, size // len(line))
    return [
        OutgoingMessage(
            i,
            "news@example.org",
            [f"subscriber{i}@example.net"],
            b"From: news@example.org\r\nTo: subscriber%d@example.net\r\n"
            b"Message-ID: <%d.bench@example.org>\r\nSubject: Issue %d\r\n"
            b"MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n%s" % (i, i, i, body),
        )
        for i in range(count)
    ]


def measure(label: str, count: int, run: Callable[[], int]) -> None:
    wall, cpu = time.perf_counter(), time.process_time()
    accepted = run()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(
        f"{label:<28} {count / wall:>9,.0f} msg/s   {cpu / count * 1e6:>6.1f} µs CPU/msg"
        f"   ({accepted:,} accepted in {wall:.2f}s)",
        flush=True,
    )


def pool_run(sink: SmtpSink, messages: list[OutgoingMessage], total: int, batch: int, conns: int):
    def run() -> int:
        accepted = 0
        with SmtpPool(sink.host, sink.port, max_connections=conns, timeout=30) as pool:
            previous = None
            for start in range(0, total, batch):
                chunk = [
                    messages[i % len(messages)] for i in range(start, min(total, start + batch))
                ]
                future = pool.submit(chunk)
                if previous is not None:
                    accepted += sum(r.ok for r in previous.result())
                previous = future
            accepted += sum(r.ok for r in previous.result())  # type: ignore[union-attr]
        return accepted

    return run


def smtplib_run(sink: SmtpSink, messages: list[OutgoingMessage], total: int, threads: int):
    def run() -> int:
        counts = [0] * threads

        def work(n: int) -> None:
            with smtplib.SMTP(sink.host, sink.port) as client:
                for i in range(n, total, threads):
                    msg = messages[i % len(messages)]
                    client.sendmail(msg.mail_from, msg.rcpt_to, msg.data)
                    counts[n] += 1

        workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        return sum(counts)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--size", type=int, default=10_240, help="approximate message bytes")
    parser.add_argument("--distinct", type=int, default=5_000, help="distinct messages built")
    parser.add_argument("--batch", type=int, default=1_000, help="messages per pool.submit()")
    parser.add_argument("--connections", default="1,2,4,8")
    parser.add_argument("--smtplib-threads", default="2,4")
    args = parser.parse_args()

    messages = build_messages(min(args.distinct, args.messages), args.size)
    print(
        f"{args.messages:,} messages of {len(messages[0].data):,} bytes to smtp-sink on loopback"
        " (shared 2-core machine: figures are noisy)\n",
        flush=True,
    )
    with SmtpSink() as sink:
        for conns in (int(c) for c in args.connections.split(",") if c):
            label = f"postroom pool, {conns} conn"
            measure(
                label, args.messages, pool_run(sink, messages, args.messages, args.batch, conns)
            )
        for threads in (int(t) for t in args.smtplib_threads.split(",") if t):
            label = f"smtplib, {threads} threads"
            measure(label, args.messages, smtplib_run(sink, messages, args.messages, threads))


if __name__ == "__main__":
    main()
