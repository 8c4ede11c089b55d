"""Parse one big file on every core: byte ranges cut at line ends, one worker each,
results taken back in file order. Django-free, like the rest of the reading side.

A range is cut only after a newline, and a newline may sit inside a quoted field,
so each range is read with a sentinel line after it: the csv module hands the
sentinel back as a row of its own only if the range ended between records. If
it does not, the range and everything after it is read by one reader in order,
exactly as a small file is; so the rows, their lines and their reasons are
always those of reading the file from start to end.
"""

import codecs
from collections import deque
from collections.abc import Iterator
from pathlib import Path

from django.apps import apps
from django.conf import settings

from postroom.imports.detect import Layout
from postroom.imports.reader import Reader
from postroom.imports.rows import Contact, Rejection, RowParser

# ~3,500 rows of a typical file: small enough that the ranges in flight (WINDOW per
# worker, held parsed by the pool until taken) hold little memory, big enough that a
# range's overhead (a task, a pickle) does not count.
CHUNK_BYTES = 256 * 1024
# A line end must come within this many bytes, or the file is read in order.
MAX_CHUNK_BYTES = 8 * CHUNK_BYTES
WINDOW = 2  # ranges queued per worker: one being parsed, one waiting
SENTINEL = "\x00postroom: end of range\x00"

# Encodings where the byte 0x0A is a newline and nothing else, 0x0D a carriage
# return: a cut after b"\n" never splits a character.
SPLITTABLE = {
    "ascii",
    "utf-8",
    "utf-8-sig",
    "iso8859-1",
    "iso8859-15",
    "mac-roman",
    *(f"cp125{i}" for i in range(9)),
}

Span = tuple[int, int, int]  # (first byte, end byte, lines before it)


def spans(path: Path, encoding: str) -> list[Span] | None:
    """The file's ranges, each ending after a newline, or None to read it in order.

    None for encodings where a byte can be part of a wider character, and for a
    lone carriage return (the reader counts it as a line end, a byte count of
    b"\\n" would not) or a line longer than MAX_CHUNK_BYTES.
    """
    try:
        if codecs.lookup(encoding).name not in SPLITTABLE:
            return None
    except LookupError:
        return None
    result: list[Span] = []
    start = lines = 0
    carry = b""
    with path.open("rb") as f:
        while block := f.read(CHUNK_BYTES):
            data = carry + block
            cut = data.rfind(b"\n") + 1
            if not cut:
                if len(data) > MAX_CHUNK_BYTES:
                    return None
                carry = data
                continue
            piece, carry = data[:cut], data[cut:]
            if piece.count(b"\r") != piece.count(b"\r\n"):
                return None
            result.append((start, start + cut, lines))
            start += cut
            lines += piece.count(b"\n")
    if carry:
        if carry.count(b"\r") != carry.count(b"\r\n"):
            return None
        result.append((start, start + len(carry), lines))
    return result


def parse_span(
    path: str, layout_data: dict, part: int, prefix: str, span: Span
) -> list[tuple | Rejection] | None:
    """A worker's job: the rows of one range parsed (contacts as plain tuples, cheap to
    send back), or None when the range did not end between records."""
    if not apps.ready:  # a pool process, without Django's apps and so its catalogues: a
        # refusal gettext'd where raised (InvalidEmail) is the English the reason stores
        settings.USE_I18N = False
    layout = Layout.from_dict(layout_data)
    parse = RowParser(layout, part).parse
    out: list[tuple | Rejection] = []
    append = out.append
    with Reader(Path(path), layout, span=span, sentinel=SENTINEL) as reader:
        for record in reader:
            if record.cells == [SENTINEL]:
                return out
            result = parse(record)
            if type(result) is Contact:
                append(tuple(result))
            else:
                assert isinstance(result, Rejection)
                if prefix:
                    result.reason = prefix + result.reason
                append(result)
    return None  # the sentinel was swallowed by an open quote


def in_order(
    pool, path: Path, layout: Layout, part: int, prefix: str, ranges: list[Span]
) -> Iterator[tuple[Span, list[Contact | Rejection] | None]]:
    """Each range with its rows, in file order, parsed by the pool; rows None when the
    range did not end between records (the caller reads on in order from there)."""
    queued: deque = deque()
    todo = iter(ranges)
    data = layout.as_dict()

    def submit() -> None:
        span = next(todo, None)
        if span is not None:
            args = (str(path), data, part, prefix, span)
            queued.append((span, pool.apply_async(parse_span, args)))

    for _ in range(pool._processes * WINDOW):
        submit()
    unpack = Contact.unpack
    while queued:
        span, pending = queued.popleft()
        try:
            rows = pending.get()
        except Exception as exc:  # the writer records it as the import's error
            raise OSError(
                f"a process reading the file failed: {type(exc).__name__}: {exc}"
            ) from exc
        if rows is None:
            yield span, None
            return
        submit()
        yield span, [unpack(r) if type(r) is tuple else r for r in rows]
