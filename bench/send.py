"""A personalised 10 KB HTML campaign at Postfix's smtp-sink, as a ratio to Postfix's own client.

    python bench/send.py [--subscribers 30000] [--db sqlite,postgres]
                         [--pg-workers 2] [--dkim] [--ledger 1500000] [--profile 20000]
                         [--window]

For each database (a fresh SQLite file; a throwaway PostgreSQL cluster) it
fills the audience with bench/audience.py's generator (the "news" list holds
2 in 3 subscribers, so 30,000 subscribers make ~20,000 recipients), then
for each worker count: creates and starts a campaign (timing the ledger
build), runs that many `postroom worker --until-idle` processes, and prints
messages/s (from the ledger's first and last sent_at, and wall time from the
workers' start to their exit), CPU per message (all worker processes; smtp-sink and the
PostgreSQL server separately) and the peak RSS of
one worker. With --dkim the same run is repeated with every message signed
(RSA-2048). --window sends again with a send window open in all of 24 reader
zones (every claim then a union of 24 zone ranges), between two plain sends, so a
windowed campaign is measured against the plain one in the same run.
--ledger N times building the ledger for the list of N*2/3
subscribers (1,500,000 → 1,000,000 rows). --profile N sends N messages with
one in-process worker and prints where its CPU goes: the split between its
own thread (building, the engine), the SMTP thread and the garbage collector,
an idle worker's start-up, then a cProfile of the worker thread's CPU time; with
BENCH_PY_SPY=DIR each worker runs under py-spy (collapsed stacks in DIR).

The ceiling: before and after the workers, Postfix's C client `smtp-source`
sends the same number of messages of the same size (one campaign message's
length) into the same smtp-sink over 10 persistent connections (`-d -s 10`);
each Postroom rate is printed as a ratio to the mean of the two. The machine
is shared and has 2 cores, which the workers, smtp-sink and the database all
share: absolute figures move between runs, the ratio much less.
"""

import argparse
import cProfile
import gc
import io
import os
import pstats
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def _campaign(name: str, sender):
    from audience import LISTS  # bench/audience.py
    from render import make_body  # bench/render.py

    from postroom.audience.models import MailingList
    from postroom.campaigns.models import Campaign

    campaign = Campaign.objects.create(
        name=name,
        subject="Weekly news for {{ subscriber.name }}",
        from_email="news@example.org",
        body=make_body(10_000),
        body_format="markdown",
        sender=sender,
    )
    campaign.lists.add(MailingList.objects.get(name=LISTS[0][0]))
    return campaign


def _start(campaign) -> tuple[int, float]:
    from postroom.delivery import control

    started = time.perf_counter()
    count = control.start(campaign)
    return count, time.perf_counter() - started


def _sent_span(campaign) -> tuple[int, float]:
    from django.db.models import Max, Min

    from postroom.delivery.models import Delivery

    rows = Delivery.objects.filter(campaign=campaign, state="sent")
    span = rows.aggregate(first=Min("sent_at"), last=Max("sent_at"))
    seconds = (span["last"] - span["first"]).total_seconds() if span["first"] else 0.0
    return rows.count(), seconds


def _sink_sender(sink, dkim: bool = False):
    from postroom.delivery.models import Sender

    sender, _ = Sender.objects.get_or_create(
        name="sink-dkim" if dkim else "sink",
        defaults={"host": sink.host, "port": sink.port, "tls": "none", "max_connections": 4},
    )
    if dkim and not sender.dkim_domain:
        sender.dkim_domain, sender.dkim_selector = "example.org", "bench"
        sender.dkim_key_file = os.environ["BENCH_DKIM_KEY"]
        sender.save()
    return sender


def message_size() -> int:
    """The length in bytes of one message of the bench campaign, as the workers build it."""
    from postroom.campaigns.spec import SAMPLE_RECIPIENT, compiled_for

    campaign = _campaign("bench size", None)
    size = len(compiled_for(campaign).build(SAMPLE_RECIPIENT).data)
    campaign.delete()
    return size


def ceiling(sink, count: int, size: int) -> float:
    """Messages/s of Postfix's C client into the same sink: `count` messages of `size` bytes
    over 10 persistent connections, as the issue measured it (smtp-source -d -s 10)."""
    binary = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
    command = [binary, "-d", "-s", "10", "-l", str(size), "-m", str(count)]
    command += ["-f", "news@example.org", "-t", "reader@example.com", f"{sink.host}:{sink.port}"]
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return count / (time.perf_counter() - started)


def _peak_rss_kb(pid: int) -> int:
    """VmHWM of a running process (ru_maxrss of children would count the pre-exec fork of
    this process, whose size grows with the audience it generated)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cpu_seconds(pid: int | None) -> float:
    """CPU of a process, its reaped children and its live children (a server's tree)."""
    if pid is None:
        return 0.0
    tick = os.sysconf("SC_CLK_TCK")

    def fields(path: str) -> list[str]:
        with open(path) as stat:
            return stat.read().rpartition(")")[2].split()

    try:
        own = fields(f"/proc/{pid}/stat")
    except OSError:
        return 0.0
    total = sum(int(v) for v in own[11:15])  # utime, stime, cutime, cstime
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                child = fields(f"/proc/{entry}/stat")
            except OSError:
                continue
            if child[1] == str(pid):
                total += sum(int(v) for v in child[11:15])
    return total / tick


def _database_server_pid() -> int | None:
    """The PostgreSQL postmaster (parent of this connection's backend); None on SQLite."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    with open(f"/proc/{backend}/stat") as stat:
        return int(stat.read().rpartition(")")[2].split()[1])


def _spread_zones() -> None:
    """Give the subscribers 24 different `timezone` attributes (Etc/GMT-11 … Etc/GMT+12)."""
    from postroom.audience.models import Subscriber

    people = list(Subscriber.objects.only("id", "attributes"))
    for person in people:
        offset = person.pk % 24 - 11
        person.attributes = {**(person.attributes or {}), "timezone": f"Etc/GMT{offset:+d}"}
    Subscriber.objects.bulk_update(people, ["attributes"], batch_size=2000)


def _open_window(campaign) -> None:
    """A fixed local time two days ago: open in every zone, so the send is as long as
    without a window, but every claim goes through the zones' union (docs/send-windows.md)."""
    import datetime

    campaign.local_time = datetime.time(0)
    campaign.local_date = datetime.date.today() - datetime.timedelta(days=2)
    campaign.save(update_fields=["local_time", "local_date"])


def run_workers(
    sink, workers: int, label: str, dkim: bool = False, window: bool = False
) -> tuple[float, int, float, float]:
    """One send: messages/s from the workers' start to their exit, messages, µs of worker
    CPU each, and the load average at the end."""
    sender = _sink_sender(sink, dkim)
    label += ", DKIM RSA-2048" if dkim else ""
    label += ", send window (24 zones)" if window else ""
    campaign = _campaign(f"bench {label} {workers}w", sender)
    if window:
        _open_window(campaign)
    count, ledger_seconds = _start(campaign)
    env = {**os.environ, "LOG_LEVEL": "WARNING"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    server = _database_server_pid()
    servers_before = _cpu_seconds(sink.pid), _cpu_seconds(server)
    received_before = sink.received()
    started = time.perf_counter()
    command = [sys.executable, "-m", "postroom.cli", "worker", "--until-idle"]
    spy = os.environ.get("BENCH_PY_SPY")
    processes = [
        subprocess.Popen(
            [*_py_spy(spy, f"{label} {workers}w {i}"), *command] if spy else command, env=env
        )
        for i in range(workers)
    ]
    peak_kb = 0
    polls = 0
    while any(p.poll() is None for p in processes):  # 20 ms: the wall time's resolution
        if polls % 25 == 0:
            peak_kb = max([peak_kb, *(_peak_rss_kb(p.pid) for p in processes)])
        polls += 1
        time.sleep(0.02)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    sink_cpu = _cpu_seconds(sink.pid) - servers_before[0]
    server_cpu = _cpu_seconds(server) - servers_before[1]
    sent, span = _sent_span(campaign)
    received = sink.received() - received_before
    per = 1e6 / max(sent, 1)
    elsewhere = f"smtp-sink {sink_cpu * per:,.0f} µs/msg"
    if server:
        elsewhere += f", PostgreSQL {server_cpu * per:,.0f} µs/msg"
    print(
        f"  {label}, {workers} worker(s): {sent:,}/{count:,} sent ({received:,} at the sink);"
        f" {sent / span if span else 0:,.0f} msg/s while sending,"
        f" {sent / wall:,.0f} msg/s wall incl. start-up ({wall:.1f} s);"
        f" CPU {cpu * per:,.0f} µs/msg (workers), {elsewhere};"
        f" peak RSS {peak_kb / 1024:,.0f} MB per worker; ledger of {count:,} built in"
        f" {ledger_seconds:.2f} s",
        flush=True,
    )
    return sent / wall, sent, cpu * per, os.getloadavg()[0]


def _py_spy(directory: str, name: str) -> list[str]:
    """py-spy in front of a worker: a raw (collapsed) profile per worker in `directory`
    (its VmHWM and CPU figures are then the worker's plus py-spy's)."""
    binary = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    out = Path(directory) / (name.replace(" ", "-").replace(",", "") + ".txt")
    return [binary, "record", "-r", "250", "-f", "raw", "-o", str(out), "--"]


def _limited_campaign(sink, name: str, count: int):
    """A started campaign of which only the first `count` rows are left to send."""
    from postroom.delivery.models import Delivery

    campaign = _campaign(name, _sink_sender(sink))
    _start(campaign)
    keep = Delivery.objects.filter(campaign=campaign).order_by("id").values("id")[count : count + 1]
    first_skipped = keep.first()
    if first_skipped:  # send only `count` of them: the rest is cancelled up front
        Delivery.objects.filter(campaign=campaign, id__gte=first_skipped["id"]).update(
            state="skipped", error="bench"
        )
    return campaign


class _GcClock:
    """CPU time spent in the cyclic garbage collector while inside the `with` block."""

    def __init__(self) -> None:
        self.seconds, self.runs, self.full, self._started = 0.0, 0, 0, 0.0

    def _tick(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.thread_time()
            return
        self.seconds += time.thread_time() - self._started
        self.runs += 1
        self.full += info["generation"] == 2

    def __enter__(self) -> "_GcClock":
        gc.callbacks.append(self._tick)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._tick)


def cpu_split(sink, count: int) -> None:
    """Where a worker's CPU goes, in CPU time (a profile's wall time under load blames
    whatever system call a preemption lands on): `count` messages sent by one in-process
    worker (its own thread: building and the engine; the rest of the process: the SMTP
    pool's thread), building the same messages alone, and a worker's start-up and exit
    with nothing to send (a `postroom worker --until-idle` process)."""
    from postroom.audience.models import Subscriber
    from postroom.campaigns.spec import compiled_for
    from postroom.delivery.models import Delivery
    from postroom.delivery.worker import DeliveryWorker
    from postroom.mail.compose import Recipient

    campaign = _limited_campaign(sink, "bench cpu split", count)
    ids = Delivery.objects.filter(campaign=campaign, state="pending").values("subscriber_id")
    people = [
        Recipient(pk, email, name, attributes or {})
        for pk, email, name, attributes in Subscriber.objects.filter(id__in=ids).values_list(
            "id", "email", "name", "attributes"
        )
    ]
    compiled = compiled_for(campaign)
    thread, process = time.thread_time(), time.process_time()
    for person in people:
        compiled.build(person)
    build = time.thread_time() - thread
    worker = DeliveryWorker()
    collecting = _GcClock()
    thread, process = time.thread_time(), time.process_time()
    with collecting:
        while worker.process_one_batch():
            pass
        worker.close()
    main, total = time.thread_time() - thread, time.process_time() - process
    sent, _ = _sent_span(campaign)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    command = [sys.executable, "-m", "postroom.cli", "worker", "--until-idle"]
    subprocess.run(command, env={**os.environ, "LOG_LEVEL": "WARNING"}, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    idle = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    per = 1e6 / max(sent, 1)
    print(
        f"  CPU split ({sent:,} messages, in-process): {total * per:,.0f} µs/msg in all ="
        f" {main * per:,.0f} worker thread (of which building alone {build * per:,.0f},"
        f" the engine ~{(main - build) * per:,.0f}) + {(total - main) * per:,.0f} SMTP thread;"
        f" the garbage collector {collecting.seconds * per:,.0f} in {collecting.runs:,} runs"
        f" ({collecting.full} full);"
        f" a worker process with nothing to send: {idle:.2f} s CPU"
        f" ({idle * 1e6 / 20_000:,.0f} µs/msg over 20,000, {idle * 1e6 / 100_000:,.0f} over"
        f" 100,000); load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )


def profile(sink, count: int) -> None:
    from postroom.delivery.worker import DeliveryWorker

    campaign = _limited_campaign(sink, "bench profile", count)
    worker = DeliveryWorker()
    # The worker thread's CPU time, not the wall clock: on a loaded host a wall-clock
    # profile blames whichever system call the scheduler preempted (time.thread_time
    # itself looked like 7% of a worker). Each call then costs the profiler ~1 µs more.
    profiler = cProfile.Profile(time.thread_time)
    started = time.perf_counter()
    profiler.enable()
    while worker.process_one_batch():
        pass
    profiler.disable()
    seconds = time.perf_counter() - started
    worker.close()
    sent, _ = _sent_span(campaign)
    print(f"  profile: {sent:,} messages in {seconds:.1f} s in-process ({sent / seconds:,.0f}/s)")
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats(
        os.environ.get("BENCH_SORT", "tottime")
    ).print_stats(int(os.environ.get("BENCH_LINES", "18")))
    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    start = next(i for i, line in enumerate(lines) if "ncalls" in line)
    print("\n".join("    " + line for line in lines[start:]), flush=True)


def ledger_only(n: int) -> None:
    from django.db import connection

    print(f"  ledger: filling {n:,} subscribers…", flush=True)
    _fill(n)
    campaign = _campaign("bench ledger", None)
    count, seconds = _start(campaign)
    print(f"  ledger ({connection.vendor}): {count:,} rows in {seconds:.2f} s", flush=True)


def _fill(n: int) -> None:
    """The audience, as it would be before a send: subscribed some time ago.

    (The worker re-checks eligibility only for people changed since the start,
    so an audience created seconds before the start would be checked in full
    for every batch: the worst case, not the usual one.)
    """
    from datetime import timedelta

    from audience import fill  # bench/audience.py: bulk audience generator
    from django.utils import timezone

    from postroom.audience.models import Subscription

    fill(n)
    Subscription.objects.update(updated_at=timezone.now() - timedelta(hours=1))


def child(args: argparse.Namespace) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "postroom.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from postroom.testing.smtpsink import SmtpSink

    call_command("migrate", verbosity=0)
    if args.ledger:
        ledger_only(args.ledger)
        return
    _fill(args.subscribers)
    label = "SQLite" if connection.vendor == "sqlite" else "PostgreSQL"
    size = message_size()
    with SmtpSink() as sink:
        runs = []
        for workers in [int(w) for w in args.workers.split(",") if w]:
            runs.append((workers, False))
            if os.environ.get("BENCH_DKIM_KEY"):
                runs.append((workers, True))
        if args.window:
            _spread_zones()
        count = round(args.subscribers * 2 / 3)
        before = ceiling(sink, count, size)
        print(f"  ceiling before: smtp-source {before:,.0f} msg/s ({size:,} bytes)", flush=True)
        measured = [(w, dkim, False, *run_workers(sink, w, label, dkim)) for w, dkim in runs]
        if args.window:  # the same sends again with an open send window, bracketed
            windowed = [(w, d, True, *run_workers(sink, w, label, d, True)) for w, d in runs]
            again = [(w, d, False, *run_workers(sink, w, label, d)) for w, d in runs]
            measured += windowed + again
        after = ceiling(sink, count, size)
        limit = (before + after) / 2
        print(f"  ceiling after: smtp-source {after:,.0f} msg/s; mean {limit:,.0f}", flush=True)
        for workers, dkim, window, rate, _, cpu, load in measured:
            what = f"{label}, {workers} worker(s){', DKIM' if dkim else ''}"
            what += ", send window (24 zones)" if window else ""
            print(
                f"  RESULT {what}: {rate:,.0f} msg/s = {rate / limit:.3f} of the ceiling;"
                f" {cpu:,.0f} µs worker CPU/msg; load average {load:.1f}",
                flush=True,
            )
        if args.profile:
            cpu_split(sink, args.profile)
            profile(sink, args.profile)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=30_000)
    parser.add_argument("--db", default="sqlite,postgres")
    parser.add_argument("--sqlite-workers", default="1")
    parser.add_argument("--pg-workers", default="2")
    parser.add_argument("--ledger", type=int, default=0, help="also time a ledger this big")
    parser.add_argument("--profile", type=int, default=20_000)
    parser.add_argument("--dkim", action="store_true", help="sign every message (RSA-2048)")
    parser.add_argument(
        "--window",
        action="store_true",
        help="also send with a send window open in 24 reader zones (between two plain sends)",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--workers", default="1", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    base = [sys.executable, __file__, "--child", "--subscribers", str(args.subscribers)]
    with tempfile.TemporaryDirectory(prefix="postroom-bench-send-") as tmp:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "LOG_LEVEL": "WARNING"}
        if args.dkim:
            from postroom.mail.dkim import generate_key_file

            env["BENCH_DKIM_KEY"] = str(Path(tmp) / "dkim.pem")
            generate_key_file(env["BENCH_DKIM_KEY"])
        for db in args.db.split(","):
            workers = args.sqlite_workers if db == "sqlite" else args.pg_workers
            window = ["--window"] if args.window else []
            runs = [[*base, "--workers", workers, "--profile", str(args.profile), *window]]
            if args.ledger:
                runs.append([*base, "--ledger", str(args.ledger)])
            for command in runs:
                data = Path(tempfile.mkdtemp(dir=tmp))
                env["POSTROOM_DATA_DIR"] = str(data)
                if db == "sqlite":
                    print(f"SQLite ({args.subscribers:,} subscribers)", flush=True)
                    subprocess.run(command, env={**env, "DATABASE_URL": ""}, check=True)
                else:
                    from postroom.testing.pgcluster import pg_cluster

                    print(f"PostgreSQL ({args.subscribers:,} subscribers)", flush=True)
                    with pg_cluster() as url:
                        subprocess.run(command, env={**env, "DATABASE_URL": url}, check=True)


if __name__ == "__main__":
    main()
