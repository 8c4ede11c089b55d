"""How many transactional requests a second does the API accept while a campaign sends?

    python bench/tx.py [--requests 3000] [--clients 16] [--web-workers 2] [--threads 8]
                       [--campaign 50000] [--template] [--new-connections] [--postgres]

A fresh SQLite database in a temporary folder (or, with --postgres, a throwaway
durable PostgreSQL cluster: fsync and synchronous commit on, as in production;
or DATABASE_URL), Postfix's `smtp-sink` as the SMTP server, a campaign to
--campaign subscribers started and a real `postroom worker` sending it, and the
production web server (`postroom serve`, gunicorn) in front. --clients threads
then POST /api/tx with a bearer token, each request one receipt rendered from a
body in the request (or, with --template, a stored template by name), as fast
as the server answers, each thread on one keep-alive connection as a shop's
HTTP client keeps it (--new-connections: a connection per request).

Prints the accepted requests per second (202s over the wall time of the burst),
the other answers, the campaign's messages sent meanwhile and still pending (so
the campaign was sending all along), the receipts sent by the end, the load
average before and after (the host is shared: read the rate beside the load),
and the CPU each process spent per request (web server, worker, PostgreSQL's
server, this client) and in cores: on a busy 2-core host the rate is the CPU
share the bench gets divided by the CPU a request costs. Two references follow
in the same run, through the same server, clients and still-sending campaign:
`GET /api/health` (one `SELECT 1`, no credential: the cheapest Django view
there is, the ceiling of this server on this host) and an authenticated read
of the log, each with its rate, tx's ratio to it and its CPU per request.
Target: 1,000 requests/s (docs/transactional.md says how far it is, and why).
"""

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def wait_for(predicate, timeout: float) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def answers(port: int) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        connection.request("GET", "/api/health")
        return connection.getresponse().status == 200
    except OSError:
        return False


def burst(args, make, headers) -> tuple[Counter[int], float]:
    """args.requests requests from args.clients threads; the answers' codes and the wall time.

    Each thread keeps one connection open (keep-alive, as a shop's HTTP client
    does), unless --new-connections: then every request opens its own."""
    codes: Counter[int] = Counter()
    lock = threading.Lock()
    todo = iter(range(args.requests))

    def client() -> None:
        connection = None
        while True:
            with lock:
                n = next(todo, None)
            if n is None:
                break
            method, path, body = make(n)
            try:
                if connection is None:
                    connection = http.client.HTTPConnection("127.0.0.1", args.port, timeout=30)
                connection.request(method, path, body, headers)
                response = connection.getresponse()
                response.read()
                status = response.status
                if args.new_connections or response.will_close:
                    connection.close()
                    connection = None
            except (OSError, http.client.HTTPException):
                status = 0
                if connection is not None:
                    connection.close()
                connection = None
            with lock:
                codes[status] += 1
        if connection is not None:
            connection.close()

    threads = [threading.Thread(target=client) for _ in range(args.clients)]
    started = time.time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return codes, time.time() - started


def cpu_seconds(pid: int) -> float:
    """CPU time used so far by a process and all its descendants (gunicorn's workers),
    living or exited."""
    children: dict[int, list[int]] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        children.setdefault(int(fields[1]), []).append(int(entry))
        # Its own time and that of its children already gone (PostgreSQL's backends).
        times[int(entry)] = sum(int(f) for f in fields[11:15]) / tick
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += times.get(current, 0.0)
        todo += children.get(current, [])
    return total


def database_server(url: str) -> int | None:
    """The PostgreSQL postmaster of a cluster on a unix socket (pgcluster's), whose
    backends do each query's work; None for SQLite, which runs inside the processes."""
    if not url.startswith("postgres"):
        return None
    socket = urllib.parse.unquote(url.split("@", 1)[1].rsplit("/", 1)[0])
    for entry in os.listdir("/proc"):
        try:
            command = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError):
            continue
        if socket in command and "postgres" in command and "pg_ctl" not in command:
            return int(entry)
    return None


def measured(args, make, headers, processes: dict[str, int]):
    """A burst, and the CPU seconds each process (and this client) spent during it."""
    before = {name: cpu_seconds(pid) for name, pid in processes.items()}
    client_before = time.process_time()
    codes, elapsed = burst(args, make, headers)
    cpu = {name: cpu_seconds(pid) - before[name] for name, pid in processes.items()}
    cpu["client"] = time.process_time() - client_before
    return codes, elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--campaign", type=int, default=50000)
    parser.add_argument("--template", action="store_true")
    parser.add_argument("--port", type=int, default=0, help="default: a free one")
    parser.add_argument("--new-connections", action="store_true")
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    if not args.postgres:
        run(args)
        return
    from postroom.testing.pgcluster import pg_cluster

    with pg_cluster(fast=False) as url:  # durable, as in production: a 202 is a commit
        os.environ["DATABASE_URL"] = url
        run(args)


def run(args) -> None:
    if not args.port:  # a fixed default clashed with another bench on a shared host
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            args.port = probe.getsockname()[1]
    folder = tempfile.mkdtemp(prefix="postroom-bench-tx-")
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{folder}/bench.sqlite3")
    os.environ.update(POSTROOM_DATA_DIR=folder, DJANGO_SETTINGS_MODULE="postroom.settings")
    os.environ.setdefault("SECRET_KEY", "bench-" + os.urandom(8).hex())
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from postroom.api.models import ApiToken
    from postroom.audience import services as audience
    from postroom.campaigns import services as campaigns
    from postroom.delivery import control
    from postroom.delivery.models import Delivery, Sender
    from postroom.testing.smtpsink import SmtpSink
    from postroom.transactional.models import TxTemplate

    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_superuser("bench", "bench@example.org", "x" * 20)
    _, token = ApiToken.issue(user, "bench")
    sink = SmtpSink()
    sink.start()
    sender = Sender.objects.create(
        name="sink", host=sink.host, port=sink.port, tls="none", max_connections=4,
        envelope_from="bounces@example.org",
    )  # fmt: skip
    news = audience.create_list("News")
    _add_readers(news, args.campaign)
    campaign = campaigns.create_campaign(
        name="Bench news", subject="News", body="# Hello {{ subscriber.name }}\n\nText.",
        lists=[news], sender=sender, from_email="news@example.org",
    )  # fmt: skip
    TxTemplate.objects.create(
        name="receipt",
        subject="Order {{ data.order }}",
        body="Thanks for order **{{ data.order }}**.",
        from_email="shop@example.org",
    )
    control.start(campaign)

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    logs = open(Path(folder) / "processes.log", "w")  # noqa: SIM115
    # `python -m` puts the current folder first on the path: run from this checkout.
    worker = subprocess.Popen([sys.executable, "-m", "postroom.cli", "worker"], env=env,
                              stdout=logs, stderr=logs, cwd=ROOT)  # fmt: skip
    web = subprocess.Popen(
        [sys.executable, "-m", "postroom.cli", "serve", "--port", str(args.port),
         "--workers", str(args.web_workers), "--threads", str(args.threads)],
        env=env, stdout=logs, stderr=logs, cwd=ROOT,
    )  # fmt: skip
    try:
        assert wait_for(lambda: answers(args.port), 60), "the web server never answered"
        newsletter = Delivery.objects.filter(campaign=campaign, state="sent")
        assert wait_for(lambda: newsletter.count() > 0, 60), "the campaign never sent"
        load_before = os.getloadavg()
        content = (
            {"template": "receipt"}
            if args.template
            else {
                "subject": "Order {{ data.order }}",
                "from": "shop@example.org",
                "body": "Thanks for order **{{ data.order }}**.",
            }
        )
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

        def tx_request(n: int) -> tuple[str, str, str | None]:
            payload = {"to": f"buyer{n}@example.net", "data": {"order": n},
                       "idempotency_key": f"order-{n}", **content}  # fmt: skip
            return "POST", "/api/tx", json.dumps(payload)

        processes = {"web": web.pid, "worker": worker.pid}
        server = database_server(os.environ["DATABASE_URL"])
        if server is not None:
            processes["database"] = server
        pending = Delivery.objects.filter(campaign=campaign, state="pending")
        sent_before = newsletter.count()
        codes, elapsed, cpu = measured(args, tx_request, headers, processes)
        load_after = os.getloadavg()
        campaign_meanwhile = newsletter.count() - sent_before
        campaign_left = pending.count()
        # References, in the same run, through the same server, clients and campaign:
        # the cheapest view there is (one `SELECT 1`, no authentication), and an
        # authenticated read of the transactional log.
        trivial = measured(args, lambda n: ("GET", "/api/health", None), {}, processes)
        reference = measured(args, lambda n: ("GET", "/api/tx?limit=1", None), headers, processes)
        references_left = pending.count()
        receipts = Delivery.objects.filter(campaign__kind="transactional")
        wait_for(lambda: not receipts.exclude(state__in=("sent", "failed")).exists(), 300)
        receipts_sent = receipts.filter(state="sent").count()
    finally:
        web.terminate()
        worker.terminate()
        web.wait(30)
        worker.wait(30)
        sink.stop()
    accepted = codes.get(202, 0)
    rate = accepted / elapsed
    others = {code: n for code, n in codes.items() if code != 202}
    print(
        f"tx accepted: {rate:,.0f} requests/s ({accepted} of {args.requests} in {elapsed:.2f} s;"
        f" other answers: {others or 'none'}) with {args.clients} clients"
        f" ({'a connection per request' if args.new_connections else 'keep-alive'}),"
        f" {args.web_workers} web processes x {args.threads} threads,"
        f" {'a stored template' if args.template else 'a body in the request'},"
        f" {'PostgreSQL' if os.environ['DATABASE_URL'].startswith('postgres') else 'SQLite'};"
        f" load average {load_before[0]:.1f} before, {load_after[0]:.1f} after"
    )
    print(
        f"  campaign sent {campaign_meanwhile} meanwhile ({campaign_left} still pending at the"
        f" end of the burst, {references_left} after the references); receipts sent"
        f" {receipts_sent} of {accepted}"
    )
    for name, (ref_codes, ref_elapsed, ref_cpu) in (
        ("GET /api/health (SELECT 1, no auth)", trivial),
        ("GET /api/tx?limit=1 (token, one read)", reference),
    ):
        ref_rate = ref_codes.get(200, 0) / ref_elapsed
        print(
            f"  reference {name}: {ref_rate:,.0f} requests/s, so tx = {rate / ref_rate:.2f} of"
            f" it; CPU a request: {_per_request(ref_cpu, ref_codes.get(200, 0))}"
        )
    print(f"  tx CPU a request: {_per_request(cpu, accepted)}")
    cores = os.cpu_count() or 1
    print(
        f"  CPU during the tx burst, in cores (of {cores}): "
        + ", ".join(f"{name} {seconds / elapsed:.2f}" for name, seconds in cpu.items())
    )


def _per_request(cpu: dict[str, float], count: int) -> str:
    return ", ".join(
        f"{name} {seconds / max(count, 1) * 1000:.2f} ms" for name, seconds in cpu.items()
    )


def _add_readers(mailing_list, count: int) -> None:
    from postroom.audience.emails import email_hash
    from postroom.audience.models import Subscriber, Subscription

    people = [Subscriber(email=f"reader{i}@example.net", email_hash=email_hash(
        f"reader{i}@example.net"), name=f"Reader {i}") for i in range(count)]  # fmt: skip
    Subscriber.objects.bulk_create(people, batch_size=2000)
    Subscription.objects.bulk_create(
        [Subscription(subscriber=s, mailing_list=mailing_list, status="confirmed",
                      consent_source="admin") for s in Subscriber.objects.all()],
        batch_size=2000,
    )  # fmt: skip


if __name__ == "__main__":
    main()
