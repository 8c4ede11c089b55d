"""A worker's journal of final dots and replies, and recovery replaying it after a kill.

The writers here are real processes that SIGKILL themselves after writing, so the
file lock is dropped by the kernel exactly as when a worker dies.
"""

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.utils import timezone

from postroom.delivery import control, journal, ledger, recovery
from postroom.delivery.models import Delivery, OutboxMessage, Worker
from postroom.mail.smtp import ACCEPTED, PERMANENT
from tests.delivery.helpers import make_audience, make_campaign

WRITER = """
import json, os, signal, socket, sys
from pathlib import Path
from postroom.delivery.journal import WorkerJournal
from postroom.mail.smtp import SendResult

worker_id = f"{socket.gethostname()}:{os.getpid()}:test00"
print(worker_id, flush=True)
spec = json.loads(sys.stdin.readline())
written = WorkerJournal(Path(spec["dir"]), worker_id, spec.get("segment_bytes", 1 << 20))
for part in spec["parts"]:
    token = written.handed([tuple(pair) for pair in part["handed"]])
    for key in part.get("dots", []):
        written.dot(key)
    for key, outcome, code, reply in part.get("replies", []):
        written.reply(SendResult(key, outcome, code, reply, "data"))
    if part.get("committed"):
        written.committed(token)
    for key in part.get("building", []):
        written.building(key)
if spec.get("torn"):
    os.write(written._fd, spec["torn"].encode())
print(json.dumps(written.segment_numbers()), flush=True)
if spec.get("hold"):
    sys.stdin.readline()  # alive until told
os.kill(os.getpid(), signal.SIGKILL)
"""


class Writer:
    """A process that writes a journal as a worker would, then dies by SIGKILL."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", WRITER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)},
        )
        self.id = self.process.stdout.readline().strip()
        self.segments: list[int] = []

    def write(self, directory: Path, parts: list[dict], **extra) -> None:
        spec = {"dir": str(directory), "parts": parts, **extra}
        self.process.stdin.write(json.dumps(spec) + "\n")
        self.process.stdin.flush()
        self.segments = json.loads(self.process.stdout.readline())
        if not extra.get("hold"):
            self.die()

    def die(self) -> None:
        if self.process.poll() is None and not self.process.stdin.closed:
            try:
                self.process.stdin.write("\n")
                self.process.stdin.flush()
            except BrokenPipeError:
                pass
        assert self.process.wait(10) == -signal.SIGKILL


def accepted(key: int) -> list:
    return [key, ACCEPTED, 250, f"250 2.0.0 Ok: queued as Q{key}"]


def test_it_tells_replies_from_dots_from_silence(tmp_path):
    writer = Writer()
    writer.write(
        tmp_path,
        [{"handed": [[1, "<m1>"], [2, "<m2>"], [3, "<m3>"], [4, "<m4>"]],
          "dots": [1, 2, 4], "replies": [accepted(1), [4, PERMANENT, 550, "550 no\tsuch\nuser"]]}],
    )  # fmt: skip

    dead = journal.open_dead(tmp_path, writer.id)

    assert isinstance(dead, journal.DeadJournal)
    replay = dead.replay
    assert replay.trusted
    assert replay.message_ids == {1: "<m1>", 2: "<m2>", 3: "<m3>", 4: "<m4>"}
    assert replay.dots == {2}
    assert replay.replies[1].outcome == ACCEPTED
    assert replay.replies[1].reply == "250 2.0.0 Ok: queued as Q1"
    assert (replay.replies[4].code, replay.replies[4].reply) == (550, "550 no\tsuch\nuser")
    assert 3 not in replay.dots and 3 not in replay.replies
    dead.remove()
    assert list(tmp_path.iterdir()) == []


def test_a_later_hand_over_of_the_same_row_forgets_its_earlier_dot_and_reply(tmp_path):
    writer = Writer()
    writer.write(
        tmp_path,
        [
            {"handed": [[7, "<m7>"]], "dots": [7], "replies": [[7, "error", 421, "421 bye"]]},
            {"handed": [[7, "<m7>"]]},
        ],
    )

    replay = journal.open_dead(tmp_path, writer.id).replay

    assert replay.dots == set() and replay.replies == {}
    assert replay.message_ids == {7: "<m7>"}


@pytest.mark.parametrize(
    ("building", "suspect"), [([8, None, 9], 9), ([8, None], None), ([], None)]
)
def test_the_row_being_built_at_the_kill_is_the_last_one_started_and_not_finished(
    tmp_path, building, suspect
):
    writer = Writer()
    writer.write(tmp_path, [{"handed": [[5, "<m5>"]], "building": building}])

    replay = journal.open_dead(tmp_path, writer.id).replay

    assert replay.trusted and replay.building == suspect


def test_an_entry_cut_short_by_the_kill_says_nothing(tmp_path):
    writer = Writer()
    writer.write(tmp_path, [{"handed": [[5, "<m5>"]], "dots": [5]}], torn="R\t5\taccepted\t25")

    replay = journal.open_dead(tmp_path, writer.id).replay

    assert replay.trusted and replay.dots == {5} and replay.replies == {}


def test_a_journal_from_another_boot_is_not_trusted(tmp_path, monkeypatch):
    writer = Writer()
    writer.write(tmp_path, [{"handed": [[1, "<m1>"]]}])
    boot_file = tmp_path / "boot_id"
    boot_file.write_text("00000000-0000-0000-0000-000000000000\n")
    monkeypatch.setattr(journal, "BOOT_ID_FILE", boot_file)  # as after a reboot

    assert not journal.open_dead(tmp_path, writer.id).replay.trusted


def test_a_living_writers_journal_is_busy_and_a_missing_one_is_none(tmp_path):
    writer = Writer()
    writer.write(tmp_path, [{"handed": [[1, "<m1>"]]}], hold=True)
    try:
        assert journal.open_dead(tmp_path, writer.id) == journal.BUSY
    finally:
        writer.die()
    assert journal.open_dead(tmp_path, "nobody:1:000000") is None


def test_it_stays_bounded_by_what_is_not_yet_recorded(tmp_path):
    parts = [
        {"handed": [[i, f"<m{i}>"]], "dots": [i], "replies": [accepted(i)], "committed": True}
        for i in range(2000)
    ]
    parts.append({"handed": [[9999, "<m9999>"]], "dots": [9999]})  # still on the wire
    writer = Writer()
    writer.write(tmp_path, parts, segment_bytes=4096)

    files = [p for p in tmp_path.iterdir() if not p.name.endswith(".lock")]
    assert len(files) == len(writer.segments) <= 2
    assert writer.segments[-1] > 10  # it did rotate
    assert sum(p.stat().st_size for p in files) < 3 * 4096
    replay = journal.open_dead(tmp_path, writer.id).replay
    assert replay.dots == {9999}


# -- recovery from the database's side ------------------------------------------------

pytestdb = pytest.mark.django_db(transaction=True)


def dead_worker_rows(campaign, writer: Writer, handed: int, claimed: int) -> list[int]:
    """Rows claimed by `writer` as a worker on this machine; the first `handed` handed over."""
    host, pid, _ = writer.id.rsplit(":", 2)
    assert host == socket.gethostname()
    Worker.objects.create(
        id=writer.id, host=host, pid=int(pid), started_at=timezone.now(), last_seen=timezone.now()
    )
    rows = ledger.claim(campaign.pk, handed + claimed, writer.id)
    ledger.hand_over([r.id for r in rows[:handed]], writer.id)
    return [r.id for r in rows]


@pytestdb
def test_recovery_settles_each_handed_row_by_what_its_journal_says(journal_dir):
    campaign = make_campaign(make_audience(6))
    control.start(campaign)
    writer = Writer()
    ids = dead_worker_rows(campaign, writer, handed=5, claimed=1)
    a, b, c, d, e, never_handed = ids
    writer.write(
        journal_dir,
        [{"handed": [[i, f"<id{i}@x>"] for i in (a, b, c, d, e)], "dots": [a, b, c, d],
          "replies": [accepted(a), [b, PERMANENT, 550, "550 5.1.1 no such user"],
                      [c, "temporary", 451, "451 4.3.0 try later"]]}],
    )  # fmt: skip

    recovered = recovery.reclaim([campaign.pk])

    rows = {r.id: r for r in Delivery.objects.filter(campaign=campaign)}
    assert (rows[a].state, rows[a].reply, rows[a].message_id) == (
        "sent", "250 2.0.0 Ok: queued as Q" + str(a), f"<id{a}@x>"
    )  # fmt: skip
    assert (rows[b].state, rows[b].reply) == ("failed", "550 5.1.1 no such user")
    assert (rows[c].state, rows[c].attempts) == ("retry", 1)
    assert rows[d].state == "in_doubt"  # dot written, no reply: the only doubt
    # What the operator needs to find it in the provider's logs stays on the row.
    assert rows[d].handed_at is not None and rows[d].worker == writer.id
    assert (rows[e].state, rows[e].attempts) == ("pending", 0)  # its dot never left
    assert (rows[never_handed].state, rows[never_handed].attempts) == ("pending", 0)
    found = recovered[campaign.pk]
    assert (found.requeued, found.in_doubt, found.settled) == (2, 1, 3)
    assert not any(journal_dir.glob(f"{journal.glob_escape(writer.id)}.*"))
    assert not Worker.objects.filter(id=writer.id).exists()


@pytestdb
def test_after_a_reboot_every_handed_row_is_in_doubt_as_without_a_journal(
    journal_dir, monkeypatch, tmp_path
):
    campaign = make_campaign(make_audience(4))
    control.start(campaign)
    writer = Writer()
    a, b, c, d = dead_worker_rows(campaign, writer, handed=3, claimed=1)
    writer.write(journal_dir, [{"handed": [[i, f"<{i}>"] for i in (a, b, c)], "dots": [a]}])
    boot_file = tmp_path / "boot_id"
    boot_file.write_text("another-boot\n")
    monkeypatch.setattr(journal, "BOOT_ID_FILE", boot_file)

    recovery.reclaim([campaign.pk])

    states = dict(Delivery.objects.filter(campaign=campaign).values_list("id", "state"))
    assert [states[i] for i in (a, b, c, d)] == ["in_doubt", "in_doubt", "in_doubt", "pending"]
    assert not any(journal_dir.glob(f"{journal.glob_escape(writer.id)}.*"))  # cleaned up


@pytestdb
def test_a_living_workers_rows_wait_for_their_lease(journal_dir):
    campaign = make_campaign(make_audience(2))
    control.start(campaign)
    writer = Writer()
    dead_worker_rows(campaign, writer, handed=2, claimed=0)
    writer.write(journal_dir, [{"handed": [], "dots": []}], hold=True)
    # Taken for dead (its heartbeat is old) although its process still runs.
    Worker.objects.filter(id=writer.id).update(last_seen=timezone.now() - ledger.WORKER_STALE * 2)
    try:
        assert recovery.reclaim([campaign.pk]) == {}
        assert Delivery.objects.filter(campaign=campaign, state="sending").count() == 2
        assert Worker.objects.filter(id=writer.id).exists()
    finally:
        writer.die()


@pytestdb
def test_rows_handed_to_the_outbox_are_sent_when_the_outbox_holds_them(journal_dir):
    campaign = make_campaign(make_audience(3))
    control.start(campaign)
    writer = Writer()
    a, b, c = dead_worker_rows(campaign, writer, handed=3, claimed=0)
    writer.write(journal_dir, [{"handed": [[i, f"<{i}.x@example.org>"] for i in (a, b, c)]}])
    # The outbox committed a's and b's messages; the worker died before recording them.
    for key in (a, b):
        OutboxMessage.objects.create(
            campaign=campaign, mail_from="x@example.org", rcpt_to="someone@example.net",
            message_id=f"<{key}.x@example.org>", data=b"",
        )  # fmt: skip

    found = recovery.reclaim([campaign.pk])[campaign.pk]

    states = dict(Delivery.objects.filter(campaign=campaign).values_list("id", "state"))
    assert [states[a], states[b], states[c]] == ["sent", "sent", "pending"]
    assert found.message() == (
        "1 recipients back in the queue, 2 settled from the worker's journal after a worker stopped"
    )


def test_worker_ids_of_one_process_never_collide(tmp_path, monkeypatch):
    """The same random bits twice in one process must still give two ids, each with its own lock."""
    monkeypatch.setattr(ledger.os, "urandom", lambda n: b"\x00" * n)
    first, second = ledger.new_worker_id(), ledger.new_worker_id()
    assert first != second
    assert first.rsplit(":", 2)[:2] == [socket.gethostname(), str(os.getpid())]
    held = [journal.WorkerJournal(tmp_path, first), journal.WorkerJournal(tmp_path, second)]
    for writer in held:
        writer.close()
