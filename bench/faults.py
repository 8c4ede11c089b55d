"""Faults a send must survive, on real worker processes and a real SMTP server: one table.

    python bench/faults.py [--quick] [--db sqlite,postgres] [--sqlite all] [--postgres kills]
                           [--kills 20] [--kill-recipients 20000] [--outages 3,60] ...

(every size and duration is an argument: --help lists them with their defaults;
the defaults take about 10 minutes on a quiet 2-core machine, --quick about 2).

Every scenario runs `postroom worker` subprocesses (1 on SQLite, 4 on a
throwaway PostgreSQL cluster) against the recording SMTP server subprocess
(`python -m postroom.testing.smtpserver --record FILE --control`, told what to
do on stdin: postroom/testing/smtpcontrol.py), with a fresh sender, audience
and campaign each, and nobody clicks anything unless the table says so:

- kills: SIGKILL a worker at a random moment while it is sending (one that
  has SMTP connections open), restart it at once as a supervisor would, and
  repeat --kills times (a campaign that runs out of work first is followed by
  a fresh one, so every run reaches --kills); then let the campaigns finish.
- outage N s: the server closes its port (connections refused, open ones cut)
  once 20 % of the campaign (at --outage-rate) is received, for N seconds.
- outage hours: --hours of outage compressed --compress times: every
  POSTROOM_*_SECONDS/_MINUTES setting the code reads from the environment and
  every Sender/Campaign *_seconds/*_minutes field is divided by it (at least
  1), the rate 35/hour becomes N/second for --hours-send seconds of sending;
  the output lists what was compressed and by how much (a floor of 1
  compresses less).
- 421 storm: the server greets with 421 and cuts the open connections, for
  --storm seconds.
- slow server: every DATA waits --slow-delay s before its reply (after the
  dot), for --slow-for seconds. hang: the same with --hang-delay past the
  SMTP client's 30 s reply timeout: the client gives up on messages the
  server then accepts (in doubt, bounded by the open connections).
- dropped before the dot: the next --drops DATA commands are hung up on
  before the 354 (the client never wrote the final dot: nothing can have
  been accepted). dropped after the dot: the next --drops messages are
  received and recorded, then the server hangs up before the 250 (accepted,
  reply lost: the one window where in doubt is physics).
- hostile template: a neighbour campaign of --neighbour recipients is sent
  alone, beside a campaign whose template is the issue's recursive macro bomb,
  beside a second bomb, and alone again (the drift of a busy host between runs
  cancels); the bomb is made data-dependent (depth from
  `subscriber.attributes.depth`, 0 in a sample render, --bomb-depth for its
  --hostile recipients), all on the same sender and workers. The bombs go
  through `create_campaign` (the save path with its checks) and are written
  directly in the database only if that refuses them; the notes say which.

Columns (each row is measured from the ledger and the server's record file):

- lost: recipients neither received by the server nor flagged (failed or
  skipped with a reason, or in doubt) when the scenario ended, rows still
  pending included. Must be 0.
- twice: recipients the server received more than once whose row is not in
  doubt. Must be 0.
- in doubt: rows in doubt; "unreceived": of them, how many the server never
  received (they could have been resent safely).
- per fault ≤ bound: the most rows put in doubt by one fault, next to the
  physical bound: the SMTP connections open at that moment (counted in the
  killed worker's /proc, or by the server), the drops after the dot, 0 for
  drops before it. Per kill it is the rise of the in-doubt count between one
  kill and the next (a recovery that lags a kill is counted in the next).
- back after: seconds from the end of the fault (server listening again,
  storm or delay over, last drop) to the next message the server accepted;
  for kills, from each kill to the next message accepted on a connection
  that is not the killed worker's (its pipelined commands still arrive), the
  worst kill shown: with one worker that is restart and recovery. "(click)"
  when that came only after the bench resumed a paused campaign; "never"
  when nothing came; "- (done)" when nothing was left to send.
- neighbour: the neighbour's rate beside the hostile campaigns divided by its
  rate alone (recipients / (last sent - start), both runs of each, same run);
  in brackets the same ratio in messages per worker CPU second (the workers'
  utime + stime during each run), which the host's load does not move. Target ≥ 0.9; "<"
  when it had not finished after --neighbour-timeout (then the bomb gets
  --bomb-wait more seconds to end).
- status: the campaign's status at the end ("stalled": still running with
  nothing sent for --stall seconds; "unfinished": the --settle time ran out).
- click: how many times the bench had to resume a campaign that paused
  itself --grace seconds after the fault ended (a real user would have had
  to). Must be "no".

The machine is shared: seconds are noisy, counts are not. --quick runs every
scenario but hang (which needs over 30 s by nature) small, to check that the
bench works (under 2 minutes on a quiet machine).
"""

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import asdict
from itertools import pairwise
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from faultkit import (  # noqa: E402  (bench/faultkit.py)
    Row,
    Workers,
    accepted,
    commit,
    cpu_seconds,
    first_after,
    open_connections,
    server_stats,
    table,
)

from postroom.testing.pgcluster import pg_cluster  # noqa: E402
from tests.delivery.processes import RecordingServer, wait_for  # noqa: E402

SCENARIOS = (
    "kills", "outages", "hours", "storm", "slow", "hang", "drop-before", "drop-after", "hostile",
)  # fmt: skip
BOMB = (
    "{% macro f(n) %}{% if n %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}{% endmacro %}"
    "<p>Hello {{ subscriber.name }}</p>{{ f(subscriber.attributes.depth|int) }}"
)
STORM_BANNER = "421 4.3.2 too busy, try again later"


# -- one scenario ---------------------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace, tmp: Path) -> None:
        from django.db import connection

        self.args, self.tmp = args, tmp
        self.db = "SQLite" if connection.vendor == "sqlite" else "PostgreSQL"
        self.workers = 1 if connection.vendor == "sqlite" else args.pg_workers
        self.env = {**os.environ}
        self.rng = random.Random(args.seed)
        self.rows: list[Row] = []

    def say(self, text: str) -> None:
        print(f"  [{time.strftime('%H:%M:%S')}] {self.db}: {text}", flush=True)

    # setup pieces, all from the project's own helpers
    def server(self, name: str) -> RecordingServer:
        return RecordingServer(self.tmp / f"{self.db}-{name}.jsonl")

    def sender(self, server: RecordingServer, name: str, rate: str = "", **fields):
        from postroom.delivery.senders import create_sender

        return create_sender(
            rates=[rate] if rate else [],
            name=name,
            host=server.host,
            port=server.port,
            tls="none",
            max_connections=self.args.connections,
            **fields,
        )

    def audience(self, count: int, name: str):
        from tests.delivery.helpers import make_audience

        return make_audience(count, list_name=name, domain=f"{name}.example.net")

    def campaign(self, mailing_list, sender, name: str, **fields):
        from tests.delivery.helpers import make_campaign

        return make_campaign(mailing_list, sender=sender, name=name, **fields)

    def start_workers(self, extra_env: dict[str, str] | None = None) -> Workers:
        log = self.tmp / f"{self.db}-workers.log"
        return Workers({**self.env, **(extra_env or {})}, self.workers, log)

    # outcomes
    def tally(self, row: Row, campaigns, server: RecordingServer, paused_ok=()) -> None:
        """Count the row's figures; rows waiting in a campaign of `paused_ok` that paused
        itself with a reason are flagged by that pause (the hostile one may)."""
        from postroom.delivery.models import Delivery

        received = server.received()
        flagged = {"failed", "skipped", "in_doubt"}
        sent_not_received = []
        for campaign in campaigns:
            campaign.refresh_from_db()
            held = campaign in paused_ok and campaign.status == "paused" and campaign.status_reason
            waiting = 0
            for email, state in Delivery.objects.filter(campaign=campaign).values_list(
                "email", "state"
            ):
                row.recipients += 1
                got = received[email.lower()]
                waiting += bool(held) and not got and state in ("pending", "retry")
                row.lost += not got and state not in flagged and not held
                row.twice += got > 1 and state != "in_doubt"
                row.in_doubt += state == "in_doubt"
                row.unreceived += state == "in_doubt" and not got
                if state == "sent" and not got:
                    sent_not_received.append(email)
            if waiting:
                row.notes.append(f"{waiting} rows wait in '{campaign.name}', paused: {held}")
        if sent_not_received:
            examples = Delivery.objects.filter(email__in=sent_not_received[:3]).values_list(
                "email", "reply", "message_id"
            )
            row.notes.append(
                f"{len(sent_not_received)} marked sent but never received, e.g. "
                + "; ".join(f"{e} (reply {r!r}, Message-ID {m})" for e, r, m in examples)
            )

    def settle(
        self,
        row: Row,
        campaigns,
        fault_end: float,
        server: RecordingServer,
        stall: float = 0,
        resume: bool = True,
    ) -> float:
        """Wait for the campaigns to end by themselves; resume one that paused itself
        (or, with resume=False, take its pause as its end: a hostile campaign may pause).

        Stalled: nothing received for `stall` (--stall) seconds after the fault.
        Returns the time of the first click (inf when none was needed)."""
        from postroom.campaigns.models import Campaign
        from postroom.delivery import control

        done = (Campaign.Status.FINISHED, Campaign.Status.CANCELLED)
        if not resume:
            done += (Campaign.Status.PAUSED,)
        first_click = float("inf")
        deadline = time.time() + self.args.settle
        last_count, last_change = -1, time.time()
        while time.time() < deadline:
            for campaign in campaigns:
                campaign.refresh_from_db()
                if (
                    resume
                    and campaign.status == Campaign.Status.PAUSED
                    and time.time() >= fault_end + self.args.grace
                ):
                    row.notes.append(f"paused itself: {campaign.status_reason}")
                    control.resume(campaign)
                    row.clicks += 1
                    first_click = min(first_click, time.time())
            if all(c.status in done for c in campaigns):
                row.status = campaigns[0].status
                return first_click
            count = server_stats(server)["received"]
            if count != last_count:
                last_count, last_change = count, time.time()
            elif time.time() - last_change > (stall or self.args.stall) and time.time() > fault_end:
                row.status = f"{campaigns[0].status}, stalled"
                return first_click
            time.sleep(0.25)
        row.status = f"{campaigns[0].status}, unfinished"
        return first_click

    def back_after(self, server: RecordingServer, moment: float, first_click: float) -> str:
        waited = first_after(accepted(server), moment)
        if waited is None:
            return "never"
        return f"{waited:.1f}" + (" (click)" if moment + waited >= first_click else "")

    def finish_row(
        self, row: Row, campaigns, server, workers: Workers, one_fault=False, paused_ok=()
    ) -> None:
        from postroom.campaigns.models import Campaign
        from postroom.delivery import control

        self.tally(row, campaigns, server, paused_ok)
        if one_fault:
            row.per_fault = row.in_doubt
        workers.stop()
        server.stop()
        for campaign in campaigns:  # out of the next scenario's way
            campaign.refresh_from_db()
            if campaign.status in (Campaign.Status.RUNNING, Campaign.Status.PAUSED):
                control.cancel(campaign, "bench: scenario over")
        self.rows.append(row)
        self.say(
            f"{row.scenario}: lost {row.lost}, twice {row.twice}, in doubt {row.in_doubt}"
            f" ({row.per_fault} per fault, bound {row.bound}), back after {row.back_after} s,"
            f" {row.status}, clicks {row.clicks}"
        )

    # -- scenarios ---------------------------------------------------------------------

    def kills(self) -> None:
        """SIGKILL a sending worker --kills times; when a campaign runs out of work before
        that, the next kill goes to a fresh one on the same server (how many rows one kill
        lets through depends on the host's load, so no single size fits every run)."""
        from postroom.delivery import control
        from postroom.delivery.models import Delivery

        a = self.args
        row = Row(f"{a.kills} SIGKILLs at random moments", self.db, self.workers)
        server = self.server("kills")
        sender = self.sender(server, "kills")
        count = a.kill_recipients if self.db == "SQLite" else a.pg_kill_recipients
        campaigns = []

        def fresh():
            number = len(campaigns) + 1
            campaign = self.campaign(
                self.audience(count, f"kills{number}"), sender, f"kills {number}"
            )
            control.start(campaign)
            campaigns.append(campaign)
            return Delivery.objects.filter(campaign=campaign)

        self.say(f"kills: campaigns of {count:,} recipients, {self.workers} worker(s)")
        rows = fresh()
        workers = self.start_workers()
        rises, kill_times, bounds = [], [], []
        while len(kill_times) < a.kills:
            before = server_stats(server)["received"]
            if not wait_for(lambda b=before: server_stats(server)["received"] > b, 60, 0.02):
                row.notes.append("no progress within 60 s after a kill")
                break
            time.sleep(self.rng.uniform(0, a.dwell))
            if not rows.filter(state__in=("pending", "retry")).exists():
                rows = fresh()  # the last one ends by itself; the kills go on in this one
                continue
            sending = [
                (i, ports)
                for i, p in enumerate(workers.processes)
                if (ports := open_connections(p.pid, server.port))
            ]
            if not sending:
                continue
            victim, ports = self.rng.choice(sending)
            pid = workers.processes[victim].pid
            all_rows = Delivery.objects.filter(campaign__in=campaigns)
            doubt = all_rows.filter(state="in_doubt").count()
            peers = server_stats(server)["peers"]
            bounds.append(len(ports))
            workers.kill(victim)
            kill_times.append((time.time(), frozenset(peers.get(str(p), 0) for p in ports)))
            # This kill's share: the rise once nothing is held by the dead worker any more.
            held = all_rows.filter(state="sending", worker__contains=f":{pid}:")
            if not wait_for(lambda h=held: not h.exists(), 90, 0.05):
                row.notes.append(f"rows of killed worker {pid} still held after 90 s")
            rises.append(all_rows.filter(state="in_doubt").count() - doubt)
        left = Delivery.objects.filter(campaign__in=campaigns, state__in=("pending", "retry"))
        row.notes.append(
            f"{len(campaigns)} campaign(s) of {count:,}; {left.count():,} rows were still to"
            " send after the last kill"
        )
        # The last campaign first: its status is the row's (the earlier ones finished).
        first_click = self.settle(row, campaigns[::-1], time.time(), server)
        row.scenario = f"{len(kill_times)} SIGKILLs at random moments"
        row.per_fault, row.bound = max(rises, default=0), max(bounds, default=0)
        row.over = sum(r > b for r, b in zip(rises, bounds, strict=True))
        if row.over:
            row.notes.append(
                f"{row.over} of {len(rises)} kills left more rows in doubt than the killed worker"
                f" had SMTP connections open (in doubt per kill: {sorted(rises)})"
            )
        records = accepted(server)
        waits = [first_after(records, t, mine) for t, mine in kill_times]
        worst = max((w for w in waits if w is not None), default=None)
        row.back_after = "never" if worst is None else f"{worst:.1f} (worst)"
        if first_click < float("inf"):
            row.back_after += " (click)"
        self.finish_row(row, campaigns, server, workers)

    def faulted_send(
        self, name: str, fault, *, recipients: int, rate: str, env=None, fields=(None, None)
    ) -> None:
        """A rate-limited campaign; `fault(server)` runs once 20 % is received.

        `fault` blocks for the fault's duration and returns (end time, bound);
        `fields` are extra (Sender, Campaign) fields."""
        from postroom.delivery import control
        from postroom.delivery.models import Delivery

        row = Row(name, self.db, self.workers)
        slug = re.sub(r"\W+", "", name).lower()
        server = self.server(slug)
        sender = self.sender(server, slug, rate, **(fields[0] or {}))
        campaign = self.campaign(self.audience(recipients, slug), sender, name, **(fields[1] or {}))
        self.say(f"{name}: {recipients:,} recipients at {rate or 'full speed'}")
        control.start(campaign)
        workers = self.start_workers(env)
        threshold = max(1, recipients // 5)
        if not wait_for(lambda: server_stats(server)["received"] >= threshold, 120):
            row.notes.append("never reached 20 % before the fault")
        fault_end, row.bound = fault(server)
        left = Delivery.objects.filter(campaign=campaign, state__in=("pending", "retry")).exists()
        first_click = self.settle(row, [campaign], fault_end, server)
        row.back_after = self.back_after(server, fault_end, first_click) if left else "- (done)"
        if not left:
            row.notes.append("nothing was left to send when the fault ended: make it bigger")
        self.finish_row(row, [campaign], server, workers, one_fault=True)

    def outage(self, seconds: float):
        def fault(server: RecordingServer) -> tuple[float, int]:
            bound = server_stats(server)["open"]
            server.control("refuse")
            time.sleep(seconds)
            server.control("accept")
            return time.time(), bound

        return fault

    def storm(self, server: RecordingServer) -> tuple[float, int]:
        bound = server_stats(server)["open"]
        server.control(f"banner {STORM_BANNER}")
        server.control("disconnect")
        time.sleep(self.args.storm)
        server.control("banner off")
        return time.time(), bound

    def slow(self, delay: float, seconds: float):
        def fault(server: RecordingServer) -> tuple[float, int]:
            server.control(f"delay DATA {delay}")
            time.sleep(seconds)
            bound = server_stats(server)["open"]
            server.control("delay DATA 0")
            return time.time(), bound

        return fault

    def drops(self, kind: str):
        def fault(server: RecordingServer) -> tuple[float, int]:
            server.control(f"drop-{kind} {self.args.drops}")
            wait_for(lambda: len(server_stats(server)["dropped"]) >= self.args.drops, 60)
            dropped = server_stats(server)["dropped"]
            return (dropped[-1][1] if dropped else time.time()), len(dropped) * (kind == "after")

        return fault

    def compressed(self) -> tuple[dict[str, str], tuple[dict, dict], str]:
        """Environment and Sender fields for --hours compressed --compress times."""
        from django.conf import settings

        from postroom.campaigns.models import Campaign
        from postroom.delivery.models import Sender

        k = self.args.compress
        env, fields, said = {}, ({}, {}), []
        source = (ROOT / "postroom" / "settings.py").read_text()
        for name, kind, var in re.findall(
            r"^(\w+)\s*=\s*env_(int|float)\(\s*\"(POSTROOM_\w+_(?:SECONDS|MINUTES))\"", source, re.M
        ):
            value = getattr(settings, name)
            new = max(1, round(value / k)) if kind == "int" else max(0.001, value / k)
            env[var] = str(new)
            said.append(f"{var} {value:g}→{new:g} ({value / new:.0f}x)")
        for model, values in zip((Sender, Campaign), fields, strict=True):
            for f in model._meta.fields:
                default = f.default
                if (
                    f.name.endswith(("_seconds", "_minutes"))
                    and isinstance(default, int | float)
                    and not isinstance(default, bool)
                    and default > 0
                ):
                    new = max(1, round(default / k))
                    values[f.name] = new
                    said.append(
                        f"{model.__name__}.{f.name} {default:g}→{new:g} ({default / new:.0f}x)"
                    )
        return env, fields, "; ".join(said)

    def hours(self) -> None:
        a = self.args
        env, fields, said = self.compressed()
        seconds = a.hours * 3600 / a.compress
        per_second = max(1, round(35 * a.compress / 3600))
        name = f"outage {a.hours:g} h, compressed {a.compress:g}x into {seconds:.0f} s"
        self.faulted_send(
            name,
            self.outage(seconds),
            recipients=round(per_second * a.hours_send),
            rate=f"{per_second}/second",
            env=env,
            fields=fields,
        )
        self.rows[-1].notes.append(
            f"compressed: rate 35/hour → {per_second}/second; {said or 'nothing else'}"
        )

    def hostile(self) -> None:
        """The neighbour alone, beside a bomb, beside a second bomb, alone again (ABBA: a
        busy host's drift between the runs cancels), on the same sender and workers."""
        from django.db.models import Max

        from postroom.audience.models import Subscriber
        from postroom.campaigns.models import Campaign
        from postroom.campaigns.services import create_campaign
        from postroom.delivery import control
        from postroom.delivery.models import Delivery
        from postroom.errors import PostroomError

        a = self.args
        row = Row("hostile template beside a normal campaign", self.db, self.workers)
        server = self.server("hostile")
        sender = self.sender(server, "hostile")
        self.say(
            f"hostile: neighbour of {a.neighbour:,} alone, beside {a.hostile} bombs"
            f" (depth {a.bomb_depth}), beside {a.hostile} more, alone"
        )
        workers = self.start_workers()
        workers.wait_up()

        gaps: list[str] = []
        cpus: list[float] = []  # the workers' CPU seconds during each timed run

        def timed(campaign, timeout: float) -> tuple[float, bool]:
            """Seconds from its start to its last message sent; whether it finished."""
            started = time.time()
            cpu = cpu_seconds([p.pid for p in workers.processes])
            control.start(campaign)
            rows = Delivery.objects.filter(campaign=campaign)
            open_rows = rows.filter(state__in=("pending", "sending", "retry"))
            finished = wait_for(lambda: not open_rows.exists(), timeout, 0.02)
            last = rows.aggregate(last=Max("sent_at"))["last"]
            span = (last.timestamp() if finished and last else time.time()) - started
            sent = rows.filter(state="sent").values_list("sent_at", flat=True)
            times = [started, *sorted(t.timestamp() for t in sent)]
            gap, at = max(((b - t, t - started) for t, b in pairwise(times)), default=(0, 0))
            gaps.append(f"{campaign.name}: longest gap {gap:.1f} s at +{at:.1f} s")
            cpus.append(cpu_seconds([p.pid for p in workers.processes]) - cpu)
            return span, finished

        def bomb(number: int):
            bombed = self.audience(a.hostile, f"bombed{number}")
            Subscriber.objects.filter(email__endswith=f"@bombed{number}.example.net").update(
                attributes={"depth": a.bomb_depth}
            )
            try:
                return create_campaign(
                    name=f"hostile {number}", subject="Hi", from_email="news@example.org",
                    body=BOMB, body_format="html", sender=sender, lists=[bombed],
                )  # fmt: skip
            except PostroomError as e:
                row.notes.append(f"the save path refused the bomb ({e}); written directly")
                return self.campaign(
                    bombed, sender, f"hostile {number}", body=BOMB, body_format="html"
                )

        neighbours = [
            self.campaign(self.audience(a.neighbour, f"n{i}"), sender, f"neighbour {i}")
            for i in range(1, 5)
        ]
        bombs = [bomb(1), bomb(2)]
        if not row.notes:
            row.notes.append("the bombs were accepted by create_campaign (the save path)")
        warm = self.campaign(self.audience(100, "warmup"), sender, "warm-up")
        timed(warm, a.neighbour_timeout)  # so "alone" does not pay for cold connections
        spans = {"alone": 0.0, "beside": 0.0}
        each = []
        finished = True
        for i, neighbour in enumerate(neighbours):
            kind = "beside" if i in (1, 2) else "alone"
            if kind == "beside":
                try:
                    control.start(bombs[i - 1])
                except PostroomError as e:
                    row.notes.append(f"starting the bomb was refused: {e}")
            span, done = timed(neighbour, a.neighbour_timeout)
            spans[kind] += span
            each.append(f"{kind} {span:.1f} s")
            finished = finished and done
        alone, beside = (2 * a.neighbour / max(spans[k], 1e-3) for k in ("alone", "beside"))
        # The same ratio in messages per worker CPU second: what the bomb takes from the
        # worker, which a busy host's load does not inflate (the wall ratio it does).
        cpu = {"alone": cpus[1] + cpus[4], "beside": cpus[2] + cpus[3]}
        row.neighbour = (
            f"{'' if finished else '< '}{beside / alone:.2f}"
            f" (CPU {cpu['alone'] / max(cpu['beside'], 1e-3):.2f})"
        )
        row.notes.append(
            f"worker CPU per neighbour run: {', '.join(f'{c:.2f} s' for c in cpus[1:])}"
        )
        row.notes.append(
            f"neighbour {alone:,.0f}/s alone, {beside:,.0f}/s beside a bomb"
            f" (in turn: {', '.join(each)})"
            + ("" if finished else f" (unfinished after {a.neighbour_timeout:g} s)")
        )
        row.notes.append("; ".join(gaps[1:]))
        refused = all(b.status == Campaign.Status.DRAFT for b in bombs)
        if refused:
            row.status = "refused at start"
        else:
            self.settle(row, bombs + neighbours, time.time(), server, a.bomb_wait, resume=False)
        for b in bombs:
            b.refresh_from_db()
            if b.status_reason:
                row.notes.append(f"the bomb's campaign: {b.status}: {b.status_reason}")
        failed = Delivery.objects.filter(campaign__in=bombs, state="failed").first()
        if failed:
            row.notes.append(f"a bombed row failed with: {failed.error or failed.reply}")
        row.status = f"{bombs[0].status} (bomb)"
        for n in neighbours:
            n.refresh_from_db()
        if any(n.status != Campaign.Status.FINISHED for n in neighbours):
            row.status += ", a neighbour " + ", ".join(n.status for n in neighbours)
        self.finish_row(row, bombs + neighbours, server, workers, paused_ok=tuple(bombs))

    def run(self, names: list[str]) -> None:
        a = self.args
        for name in names:
            if name == "kills":
                self.kills()
            elif name == "outages":
                for seconds in a.outages:
                    self.faulted_send(
                        f"outage {seconds:g} s",
                        self.outage(seconds),
                        recipients=a.outage_recipients,
                        rate=a.outage_rate,
                    )
            elif name == "hours":
                self.hours()
            elif name == "storm":
                self.faulted_send(
                    f"421 storm {a.storm:g} s", self.storm,
                    recipients=a.outage_recipients, rate=a.outage_rate,
                )  # fmt: skip
            elif name == "slow":
                self.faulted_send(
                    f"slow server: DATA +{a.slow_delay:g} s for {a.slow_for:g} s",
                    self.slow(a.slow_delay, a.slow_for),
                    recipients=a.outage_recipients, rate=a.outage_rate,
                )  # fmt: skip
            elif name == "hang":
                self.faulted_send(
                    f"server hangs past the client timeout: DATA +{a.hang_delay:g} s"
                    f" for {a.hang_for:g} s",
                    self.slow(a.hang_delay, a.hang_for),
                    recipients=a.outage_recipients, rate=a.outage_rate,
                )  # fmt: skip
            elif name in ("drop-before", "drop-after"):
                kind = name.split("-")[1]
                self.faulted_send(
                    f"{a.drops} connections dropped {kind} the dot", self.drops(kind),
                    recipients=a.outage_recipients, rate=a.outage_rate,
                )  # fmt: skip
            elif name == "hostile":
                self.hostile()


# -- the table ------------------------------------------------------------------------


def chosen(names: str, quick: bool) -> list[str]:
    every = [n for n in SCENARIOS if not (quick and n == "hang")]
    picked = every if names == "all" else [n for n in names.split(",") if n]
    unknown = set(picked) - set(SCENARIOS)
    if unknown:
        raise SystemExit(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    return picked


def child(args: argparse.Namespace) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "postroom.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    bench = Bench(args, Path(args.tmp))
    names = args.sqlite if bench.db == "SQLite" else args.postgres
    try:
        bench.run(chosen(names, args.quick))
    finally:
        with open(args.rows, "a") as out:
            for row in bench.rows:
                out.write(json.dumps(asdict(row)) + "\n")


QUICK = {
    "kills": 3, "kill_recipients": 2000, "pg_kill_recipients": 4000, "dwell": 0.5, "outages": [2.0],
    "outage_recipients": 200, "outage_rate": "100/second", "hours": 8.0, "compress": 9600.0,
    "hours_send": 5.0, "storm": 1.0, "slow_for": 1.0, "drops": 2, "neighbour": 200,
    "hostile": 2, "bomb_depth": 17, "neighbour_timeout": 5.0, "bomb_wait": 5.0, "settle": 60.0,
    "stall": 8.0, "grace": 2.0,
}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--quick", action="store_true", help="every scenario, small (< 2 min)")
    add("--db", default="sqlite,postgres")
    add("--parallel", action="store_true", help="run the databases side by side (--quick does)")
    add("--sqlite", default="all", help=f"scenarios on SQLite: all or some of {SCENARIOS}")
    add("--postgres", default="kills", help="scenarios on PostgreSQL")
    add("--pg-workers", type=int, default=4)
    add("--connections", type=int, default=4, help="max SMTP connections per sender")
    add("--kills", type=int, default=20)
    add("--kill-recipients", type=int, default=5_000, help="on SQLite, per campaign")
    add("--pg-kill-recipients", type=int, default=10_000, help="per campaign: 4 workers send more")
    add("--dwell", type=float, default=1.5, help="random wait after progress before a kill")
    add("--outages", type=lambda s: [float(x) for x in s.split(",")], default=[3.0, 60.0])
    add("--outage-recipients", type=int, default=600)
    add("--outage-rate", default="100/second")
    add("--hours", type=float, default=8.0, help="the long outage, in hours")
    add("--compress", type=float, default=960.0, help="time compression of the long outage")
    add("--hours-send", type=float, default=20, help="seconds of sending at the compressed rate")
    add("--storm", type=float, default=10.0, help="seconds of 421 greetings")
    add("--slow-delay", type=float, default=1.0)
    add("--slow-for", type=float, default=10.0)
    add("--hang-delay", type=float, default=35.0, help="past the SMTP client's 30 s timeout")
    add("--hang-for", type=float, default=3.0)
    add("--drops", type=int, default=5)
    add("--neighbour", type=int, default=5000)
    add("--hostile", type=int, default=5, help="recipients of the hostile campaign")
    add("--bomb-depth", type=int, default=22)
    add("--neighbour-timeout", type=float, default=30.0)
    add("--bomb-wait", type=float, default=20.0, help="then how long the bomb may go on")
    add("--settle", type=float, default=180.0, help="longest wait for a campaign to end")
    add("--stall", type=float, default=45.0, help="nothing received for this long: stalled")
    add("--grace", type=float, default=5.0, help="wait before resuming a self-paused campaign")
    add("--seed", type=int, default=None)
    add("--child", action="store_true", help=argparse.SUPPRESS)
    add("--rows", help=argparse.SUPPRESS)
    add("--tmp", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        given = {a[2:].split("=")[0].replace("-", "_") for a in sys.argv[1:] if a.startswith("--")}
        for key, value in QUICK.items():
            if key not in given:
                setattr(args, key, value)
    if args.child:
        child(args)
        return
    chosen(args.sqlite, args.quick), chosen(args.postgres, args.quick)  # fail before any work
    started = time.time()
    print(f"faults bench on {commit(ROOT)}", flush=True)
    with tempfile.TemporaryDirectory(prefix="postroom-bench-faults-") as tmp, ExitStack() as stack:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "LOG_LEVEL": "ERROR"}
        children = []
        for db in args.db.split(","):
            data = Path(tempfile.mkdtemp(dir=tmp))
            rows = data / "rows.jsonl"
            url = "" if db == "sqlite" else stack.enter_context(pg_cluster())
            child_env = {**env, "POSTROOM_DATA_DIR": str(data), "DATABASE_URL": url}
            command = [*sys.argv[1:], "--child", "--rows", str(rows), "--tmp", str(data)]
            children.append(
                (subprocess.Popen([sys.executable, __file__, *command], env=child_env), rows)
            )
            if not args.parallel:
                children[-1][0].wait()
        for process, _ in children:
            process.wait()
        lines = [
            line for _, rows in children if rows.exists() for line in rows.read_text().splitlines()
        ]
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        took = f"{time.time() - started:.0f} s" + (" (--quick)" if args.quick else "")
        print(f"\nFaults, measured on {commit(ROOT)}, {when}, {took}:\n", flush=True)
        print(table([Row(**json.loads(line)) for line in lines]), flush=True)


if __name__ == "__main__":
    main()
