"""Each worker's journal of the in-doubt window, on local disk (no Django, no database).

Why: the database can only say which rows a dead worker had handed to its
transport, not which of them reached the server. Up to a whole part of 50
could be "in doubt" per kill although physics allows at most one message per
open SMTP connection: the one whose final `.` was written and whose reply was
not read. So the worker appends, with unbuffered `os.write` calls:

    J  version, boot id, worker id        first line of every segment file
    H  id, Message-ID, id, Message-ID...   a part is about to go to the transport
    D  id                                  its final dot is about to be written
    R  id, outcome, code, stage, flags, reply, message    the server's answer
    B  id, or nothing                      (older workers: the row being built)

and keeps, in a page of its lock file mapped into memory (`building`), the id
of the row whose message it is building (0: none): set once per message, that
costs a store instead of a system call and the lock. A store to a shared file
mapping is in the page cache at once, so it survives the process as a write
does; the page is written out at creation, so a full disk cannot fault it later.

An `os.write` has reached the kernel when it returns, so every entry survives
the process being killed (SIGKILL, OOM, a crash) and is visible at once to
other processes on this machine. It does not survive the machine losing power
or the kernel dying: the page cache may lose the tail. Such a journal is
recognised by its boot id (/proc/sys/kernel/random/boot_id changes at every
boot) and is not trusted: every handed row of its worker is then in doubt, as
when the worker's machine never comes back and another machine recovers its
rows from the database alone.

Files: `<dir>/<worker id>.lock`, holding the boot id and an exclusive `flock`
for the worker's whole life (the kernel drops it when the process dies, so a
recoverer that gets the lock knows the writer is gone and can write no more),
and segments `<dir>/<worker id>.<n>`. A segment is closed after
SEGMENT_BYTES and deleted once every part handed over while it, or an older
one, was being written has been recorded in the database: the journal stays
bounded by what is in flight.
"""

from __future__ import annotations

import fcntl
import mmap
import os
import re
import struct
import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from postroom.mail.smtp import SendResult

VERSION = "1"
SEGMENT_BYTES = 1 << 20  # ~7,000 messages: rotated every few seconds at full speed
BOOT_ID_FILE = Path("/proc/sys/kernel/random/boot_id")
_UNESCAPE = re.compile(r"\\(.)")
_ESCAPES = {"\\": "\\", "t": "\t", "n": "\n", "r": "\r"}
# The lock file: the boot id from offset 0, the row being built at BUILDING_AT (an
# aligned 64-bit integer: one store, never seen half-written).
BUILDING_AT = mmap.ALLOCATIONGRANULARITY
_BUILDING = struct.Struct("=q")


def boot_id() -> str:
    """This boot's id; '' where the kernel offers none (then no journal is ever trusted)."""
    try:
        return BOOT_ID_FILE.read_text().strip()
    except OSError:
        return ""


def _escape(text: str) -> str:
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
        text = text.replace("\r", "\\r")
    return text


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text
    return _UNESCAPE.sub(lambda m: _ESCAPES.get(m.group(1), m.group(1)), text)


def lock_path(directory: Path, worker_id: str) -> Path:
    return directory / f"{worker_id}.lock"


def _segments(directory: Path, worker_id: str) -> list[tuple[int, Path]]:
    prefix = f"{worker_id}."
    found = []
    for path in directory.glob(f"{glob_escape(worker_id)}.*"):
        number = path.name[len(prefix) :]
        if number.isdigit():
            found.append((int(number), path))
    return sorted(found)


def glob_escape(name: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", name)


class WorkerJournal:
    """The writing side, one per worker process.

    `handed` runs on the worker's thread; `dot` and `reply` on the SMTP pool's
    thread (it implements `postroom.mail.smtp.Journal`). A lock orders them
    against rotation; uncontended it costs well under a microsecond.
    """

    def __init__(self, directory: Path, worker_id: str, segment_bytes: int = SEGMENT_BYTES):
        self.directory = directory
        self.worker_id = worker_id
        self.segment_bytes = segment_bytes
        self.boot = boot_id()
        directory.mkdir(parents=True, exist_ok=True)
        self._lock_fd = os.open(lock_path(directory, worker_id), os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a fresh id: always free
        os.write(self._lock_fd, self.boot.encode())
        os.pwrite(self._lock_fd, bytes(BUILDING_AT), BUILDING_AT)  # fails here if disk full
        self._building = mmap.mmap(self._lock_fd, BUILDING_AT, offset=BUILDING_AT)
        self._mutex = threading.Lock()
        # [segment number, parts handed while it was current and not yet recorded]
        self._open_parts: deque[list[int]] = deque()
        self._fd = -1
        self._size = 0
        self._broken = False
        self._rotate(1)

    # -- writing ------------------------------------------------------------

    def _rotate(self, number: int) -> None:
        path = self.directory / f"{self.worker_id}.{number}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_TRUNC, 0o600)
        if self._fd >= 0:
            os.close(self._fd)
        self._fd = fd
        self._size = 0
        self._open_parts.append([number, 0])
        self._append(f"J\t{VERSION}\t{self.boot}\t{self.worker_id}\n")

    def _append(self, line: str) -> None:
        if self._broken:
            return
        data = line.encode("utf-8", "replace")
        try:
            os.write(self._fd, data)
        except OSError:
            # Disk full or gone: without its entries this journal would claim that
            # messages never left. Removing it makes recovery fall back to the
            # database alone (every handed row in doubt), which is always safe.
            self._broken = True
            self._remove_files()
            return
        self._size += len(data)

    def handed(self, rows: list[tuple[int, str]]) -> int:
        """(ledger id, Message-ID) of a part about to go to the transport; returns a token
        for `committed`."""
        with self._mutex:
            if self._size >= self.segment_bytes:
                self._rotate(self._open_parts[-1][0] + 1)
                self._drop_recorded()
            self._append("H\t" + "\t".join(f"{key}\t{mid}" for key, mid in rows) + "\n")
            current = self._open_parts[-1]
            current[1] += 1
            return current[0]

    def dot(self, key: object) -> None:
        with self._mutex:
            self._append(f"D\t{key}\n")

    def reply(self, result: SendResult) -> None:
        line = _reply_line(result)
        with self._mutex:
            self._append(line)

    def reply_and_dot(self, result: SendResult, key: object) -> None:
        line = f"{_reply_line(result)}D\t{key}\n"
        with self._mutex:
            self._append(line)

    def building(self, key: int | None) -> None:
        """The worker starts building the message of row `key` (None: it is done building).

        After a death, the row being built is the likely culprit (`recovery`).
        """
        if not self._broken:
            _BUILDING.pack_into(self._building, 0, key or 0)

    def committed(self, token: int) -> None:
        """The part handed with this token is recorded in the database."""
        with self._mutex:
            for entry in self._open_parts:
                if entry[0] == token:
                    entry[1] -= 1
                    break
            self._drop_recorded()

    def _drop_recorded(self) -> None:
        # Oldest first, never the current one: a part's dot and reply may land in a
        # later segment than its hand-over, so a segment goes only with all before it.
        while len(self._open_parts) > 1 and self._open_parts[0][1] <= 0:
            number, _ = self._open_parts.popleft()
            _unlink(self.directory / f"{self.worker_id}.{number}")

    def segment_numbers(self) -> list[int]:
        with self._mutex:
            return [number for number, _ in self._open_parts]

    def close(self) -> None:
        """Everything is recorded: remove the journal (a clean stop leaves nothing)."""
        with self._mutex:
            self._remove_files()
            if not self._building.closed:
                self._building.close()
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
            if self._lock_fd >= 0:
                os.close(self._lock_fd)
                self._lock_fd = -1

    def _remove_files(self) -> None:
        for number, _ in self._open_parts:
            _unlink(self.directory / f"{self.worker_id}.{number}")
        _unlink(lock_path(self.directory, self.worker_id))


def _reply_line(result: SendResult) -> str:
    flags = ("s" if result.sender_error else "") + ("m" if result.maybe_delivered else "")
    return (
        f"R\t{result.key}\t{result.outcome}\t{'' if result.code is None else result.code}"
        f"\t{result.stage}\t{flags}\t{_escape(result.reply)}\t{_escape(result.message)}\n"
    )


def _unlink(path: Path) -> None:
    path.unlink(missing_ok=True)


# -- reading a dead worker's journal --------------------------------------------


@dataclass
class Replay:
    """What a dead worker's journal says about the rows it handed over."""

    trusted: bool  # written during this boot, complete: its silences mean "never sent"
    message_ids: dict[int, str] = field(default_factory=dict)  # handed rows → Message-ID
    dots: set[int] = field(default_factory=set)  # dot written, no reply read: in doubt
    replies: dict[int, SendResult] = field(default_factory=dict)  # answered after the dot
    building: int | None = None  # the row whose message was being built when it died


class DeadJournal:
    """A dead worker's journal, locked: `replay`, then `remove()` once the database
    holds its verdicts (or `release()` to leave it for later)."""

    def __init__(self, directory: Path, worker_id: str, fd: int) -> None:
        self.directory = directory
        self.worker_id = worker_id
        self._fd = fd
        self.replay = self._read()

    def _read(self) -> Replay:
        boot = boot_id()
        head = os.pread(self._fd, 200, 0).split(b"\0", 1)[0]
        written = head.decode("utf-8", "replace").strip()
        replay = Replay(trusted=bool(boot) and written == boot)
        slot = os.pread(self._fd, _BUILDING.size, BUILDING_AT)
        if len(slot) == _BUILDING.size:
            replay.building = _BUILDING.unpack(slot)[0] or None
        for _, path in _segments(self.directory, self.worker_id):
            try:
                text = path.read_text("utf-8", "replace")
            except FileNotFoundError:
                continue
            lines = text.split("\n")
            lines.pop()  # after the last newline: empty, or an entry cut short
            if not lines or lines[0].split("\t")[:3] != ["J", VERSION, boot]:
                replay.trusted = False
                continue
            for line in lines[1:]:
                _apply(replay, line.split("\t"))
        return replay

    def remove(self) -> None:
        for _, path in _segments(self.directory, self.worker_id):
            _unlink(path)
        _unlink(lock_path(self.directory, self.worker_id))
        self.release()

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _apply(replay: Replay, fields: list[str]) -> None:
    kind = fields[0]
    try:
        if kind == "H":
            for i in range(1, len(fields) - 1, 2):
                key = int(fields[i])
                replay.message_ids[key] = fields[i + 1]
                replay.dots.discard(key)
                replay.replies.pop(key, None)
        elif kind == "B":
            replay.building = int(fields[1]) if fields[1] else None
        elif kind == "D":
            key = int(fields[1])
            if key in replay.message_ids:
                replay.dots.add(key)
                replay.replies.pop(key, None)
        elif kind == "R" and len(fields) == 8:
            key = int(fields[1])
            if key in replay.dots:
                replay.dots.discard(key)
                _, _, outcome, code, stage, flags, reply, message = fields
                replay.replies[key] = SendResult(
                    key,
                    outcome,
                    int(code) if code else None,
                    _unescape(reply),
                    stage,
                    _unescape(message),
                    sender_error="s" in flags,
                    maybe_delivered="m" in flags,
                )
    except ValueError:
        pass  # a damaged line says nothing; silence about a dot is never assumed from it


BUSY = "busy"  # its writer still holds the lock: alive (or being recovered right now)


def open_dead(directory: Path, worker_id: str) -> DeadJournal | str | None:
    """Lock and read a dead worker's journal: a DeadJournal; BUSY; or None (there is none)."""
    try:
        fd = os.open(lock_path(directory, worker_id), os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return BUSY
    if not lock_path(directory, worker_id).exists():  # removed by a recoverer meanwhile
        os.close(fd)
        return None
    return DeadJournal(directory, worker_id, fd)
