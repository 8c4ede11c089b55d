"""A message compiled once per campaign: constant text encoded once, slots per recipient.

Rendering the whole 17 KB HTML and 9.5 KB text templates for every recipient
and quoted-printable-encoding the whole text part again cost about half of a
worker's CPU (bench/send.py --profile: 30 Jinja renders, 98 sandboxed lookups
and one 9.5 KB `b2a_qp` per message). Yet nearly all of those bytes are the
same for every recipient. So a part whose template is *linear* — constant
text and `{{ expression }}` outputs, with `{% if %}` only on campaign constants
such as `list.name` — is split here into constant lines and slots:

- the distinct slot expressions of the subject and both parts are rendered per
  recipient by one small template made of exactly those expression nodes
  (`SlotRender`), in the same sandboxed environment (same escaping, `default`,
  undefined values, budget), so each value is the string the full template
  would have printed at that place (only the time budget is spent once per
  distinct expression, not per print, and once for the three together);
  `{{ subscriber.first_name | default("friend") }}` written 30 times is
  rendered once;
- whole constant lines are encoded (character references, quoted-printable,
  CRLF) once; only the lines that hold a slot are encoded per recipient.

The bytes are exactly `mime.encode_body` of the fully rendered text: both
character references and `b2a_qp` work line by line (a soft break or a
trailing-space escape never looks past the next LF), and the encoding chosen
(7bit, quoted-printable or base64) is decided from the same counts added up
over the lines. tests/mail/test_slots.py compares the two over generated
templates and recipients. Anything else — loops, `{% set %}`, macros, blocks,
a condition on a recipient's data, a recipient whose part would need base64,
any error or budget trouble — takes the full render, which also produces the
error messages, with their lines.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jinja2 import nodes
from markupsafe import escape

from postroom.mail.budget import DEFAULT_BUDGET, Budget
from postroom.mail.mime import ASCII_BYTES, clean_subscriber_value, quoted_printable, short_lines
from postroom.mail.templating import environment, render_pieces

# Names whose value is the same for every recipient of a campaign: a condition
# or an output that reads only these is settled when the campaign is compiled.
CAMPAIGN_CONSTANTS = frozenset({"list"})
# The regex engine finds this two-byte pattern ~3x faster than `in` does.
_DOT_AFTER_NEWLINE = re.compile(rb"\n\.")
# Filled runs kept per group of runs, for readers with the same values (`_RunGroup`),
# and after how many readers the groups whose values seldom repeat are merged.
FILLED_KEPT = 128
REGROUP_AFTER = 200


class NotLinear(Exception):
    """The template does something per recipient that slots cannot express."""


@dataclass(frozen=True)
class _Lines:
    """Whole lines of constant text (each ends with LF, or the part does), encoded once."""

    crlf: bytes  # 7bit form
    qp: bytes  # quoted-printable form
    length: int
    non_ascii: int
    clean: bool  # ASCII, no NUL, no line over 998 bytes
    has_boundary: bool


class CompiledPart:
    """One text part (HTML or plain) or the subject of a campaign, ready to be filled per
    recipient."""

    def __init__(
        self,
        source: str,
        *,
        html: bool,
        constants: Mapping[str, Any],
        boundary: bytes,
        limits: Budget = DEFAULT_BUDGET,
    ) -> None:
        """NotLinear when the template needs the full render for every recipient."""
        self.html = html
        self.charrefs = html  # `prepare` settles it
        self.boundary = boundary
        env = environment(html)
        body = _flatten(env.parse(source).body, env, constants, limits)
        segments: list[str | nodes.Expr] = []
        for output in body:
            segments.extend(
                child.data if isinstance(child, nodes.TemplateData) else child
                for child in output.nodes
            )
        slots: dict[str, int] = {}
        expressions: list[nodes.Expr] = []
        pieces: list[str | int] = []
        self.multiplicity: list[int] = []
        for segment in segments:
            if isinstance(segment, str):
                pieces.append(segment)
                continue
            if _names(segment) <= CAMPAIGN_CONSTANTS:  # settled now, like a constant
                value = _evaluate(env, segment, constants, limits)
                if value is not None:
                    pieces.append(value)
                    continue
            key = repr(segment)  # nodes compare by fields; repr names them all
            if key not in slots:
                slots[key] = len(expressions)
                expressions.append(segment)
                self.multiplicity.append(0)
            self.multiplicity[slots[key]] += 1
            pieces.append(slots[key])
        if any("\r" in p for p in pieces if isinstance(p, str)):
            raise NotLinear("a CR in the template text")  # normalised across pieces
        self.expressions = expressions
        self.slot_count = len(expressions)
        self._most_repeated = max(self.multiplicity, default=0)
        self.constant_chars = sum(len(p) for p in pieces if isinstance(p, str))
        self._pieces = pieces
        self._text_format = "".join(_format_piece(p) for p in pieces)

    def prepare(self, charrefs: bool) -> None:
        """Encode the constant lines once (after the caller decides on character references).

        The part becomes constant lines C0 R0 C1 R1 … Cn, where each R is a run of lines
        holding slots. The runs are grouped by the slots they hold (`_RunGroup`): a
        group's runs are filled by one `str.format` call, joined by a line of this
        compile's random SEPARATOR, and encoded in one pass; splitting the result at the
        separator gives each run's bytes. The separator is a line of letters and digits,
        which every encoding leaves as it is, and unguessable.
        """
        self.charrefs = charrefs
        constants: list[str] = []
        runs: list[list[str | int]] = []
        region: list[str | int] = []  # open while a line holding a slot is not finished
        constant = ""  # text after the last run, starting at a line start
        for piece in self._pieces:
            if isinstance(piece, int):
                if not region:
                    lines, newline, tail = constant.rpartition("\n")
                    constants.append(lines + newline)
                    region = [tail] if tail else []
                    constant = ""
                region.append(piece)
            elif not region:
                constant += piece
            else:
                head, newline, rest = piece.partition("\n")
                region.append(head + newline)
                if newline:  # the run ends with its line
                    runs.append(region)
                    region, constant = [], rest
        if region:
            runs.append(region)
        constants.append(constant)  # the last line may lack its LF
        self.constants = [self._lines(text) for text in constants]
        self.separator = secrets.token_hex(16) + "\n"
        self.crlf_separator = self.separator.encode("ascii").replace(b"\n", b"\r\n")
        self.runs = len(runs)
        self._runs = [
            (2 * number + 1, "".join(map(_format_piece, run)), _held(run))
            for number, run in enumerate(runs)
        ]
        self.groups = self._grouped(self._runs, keep=True)
        self._regrouped = False
        self.whole = _Lines(
            crlf=b"".join(c.crlf for c in self.constants),
            qp=b"".join(c.qp for c in self.constants),
            length=sum(c.length for c in self.constants),
            non_ascii=sum(c.non_ascii for c in self.constants),
            clean=all(c.clean for c in self.constants),
            has_boundary=any(c.has_boundary for c in self.constants),
        )
        # The constant lines at the even places; each run goes in between.
        self._crlf = [c for constant in self.constants for c in (constant.crlf, b"")][:-1]
        self._qp = [c for constant in self.constants for c in (constant.qp, b"")][:-1]
        self._crlf_dots = any(map(_dotted, self._crlf))
        self._qp_dots = any(map(_dotted, self._qp))

    def _grouped(self, runs: list[tuple[int, str, tuple[int, ...]]], keep: bool) -> list[_RunGroup]:
        """The runs (place, format, slots held) grouped by the slots they hold."""
        groups: dict[tuple[int, ...], _RunGroup] = {}
        for place, source, held in runs:
            group = groups.get(held) or groups.setdefault(held, _RunGroup(self, held, keep))
            group.place(place, source)
        for group in groups.values():
            group.seal()
        return list(groups.values())

    def _regroup(self) -> None:
        """Once the groups have seen enough readers: the runs of groups whose values seldom
        repeat (names, links) are filled together, in one pass, and never kept."""
        self._regrouped = True
        cold = {g.held for g in self.groups if g.hits * 4 < g.lookups}
        warm = [g for g in self.groups if g.held not in cold]
        rest = [run for run in self._runs if run[2] in cold]
        merged = []
        if rest:
            held = tuple(sorted({i for run in rest for i in run[2]}))
            merged = self._grouped([(place, source, held) for place, source, _ in rest], False)
        self.groups = warm + merged

    def _data(self, text: str) -> bytes:
        return text.encode("ascii", "xmlcharrefreplace") if self.charrefs else text.encode()

    def _lines(self, text: str) -> _Lines:
        data = self._data(text)
        return _Lines(
            crlf=data.replace(b"\n", b"\r\n"),
            qp=quoted_printable(data),
            length=len(data),
            non_ascii=len(data.translate(None, ASCII_BYTES)),
            clean=data.isascii() and b"\x00" not in data and short_lines(data),
            has_boundary=bool(self.boundary) and self.boundary in data,
        )

    def fits(self, values: list[str], limits: Budget) -> bool:
        """Whether the text stays within the size budget.

        The full render counts every printed value against the size budget; a slot is
        printed once in `SlotRender`, so the size is counted with each slot's repeats.
        """
        printed = sum(map(len, values))
        if self.constant_chars + printed * self._most_repeated <= limits.max_chars:
            return True  # the usual answer, without a Python loop over the slots
        size = self.constant_chars + sum(
            len(v) * n for v, n in zip(values, self.multiplicity, strict=True)
        )
        return size <= limits.max_chars

    def text(self, values: list[str]) -> str:
        """The part's whole text with these slot values (the subject line)."""
        return self._text_format.format(*values)

    def encode(self, values: list[str]) -> tuple[str, bytes, bool] | None:
        """(Content-Transfer-Encoding, body, whether a line of it starts with a dot) with the
        body exactly as `mime.encode_body` of the rendered text; None when the text would
        need base64 (rare: mostly non-Latin text), left to it.

        The SMTP client must double a line's leading dot, and searching 29 KB for one
        cost it 13 µs a message; here every constant line and run starts a line, so
        their own answers, found once, add up to the message's."""
        whole = self.whole
        groups = self.groups
        if not self._regrouped and groups and groups[0].lookups >= REGROUP_AFTER:
            self._regroup()
            groups = self.groups
        filled = [group.filled(values) for group in groups]
        # The separators are ASCII, short lines and no boundary: they change no verdict.
        clean = whole.clean and all(f.clean for f in filled)
        if clean and not (whole.has_boundary or any(f.has_boundary for f in filled)):
            cte, out, qp, dots = "7bit", list(self._crlf), False, self._crlf_dots
        else:
            if not clean:  # sizes only matter here: base64 or quoted-printable
                sizes = [f.sizes() for f in filled]
                length = whole.length + sum(length for length, _ in sizes)
                non_ascii = whole.non_ascii + sum(count for _, count in sizes)
                if non_ascii * 6 >= length:
                    return None
            cte, out, qp, dots = "quoted-printable", list(self._qp), True, self._qp_dots
        for group, runs in zip(groups, filled, strict=True):
            encoded = runs.encoded(qp)
            dots = dots or runs.dots(qp)
            for place, index in group.places:
                out[place] = encoded[index]
        return cte, b"".join(out), dots


class _Filled:
    """One group's runs filled with one recipient's values: their bytes and counts."""

    __slots__ = (
        "_ascii",
        "_crlf",
        "_crlf_dots",
        "_qp",
        "_qp_dots",
        "_sizes",
        "clean",
        "counts",
        "data",
        "has_boundary",
        "part",
    )

    def __init__(self, part: CompiledPart, data: bytes, counts: list[int]) -> None:
        self.part = part
        self.data = data
        self.counts = counts
        self._crlf: list[bytes] | None = None
        self._qp: list[bytes] | None = None
        self._crlf_dots = self._qp_dots = False
        self._sizes: tuple[int, int] | None = None
        self._ascii = data.isascii()
        self.clean = self._ascii and b"\x00" not in data and short_lines(data)
        self.has_boundary = bool(part.boundary) and part.boundary in data

    def sizes(self) -> tuple[int, int]:
        """(length, non-ASCII bytes) of the runs as placed: each distinct run as often as
        it is placed. Computed once, and only for a part that is not plain 7bit (the
        choice between quoted-printable and base64 needs them)."""
        if self._sizes is not None:
            return self._sizes
        data, counts = self.data, self.counts
        if len(counts) == 1:
            non_ascii = 0 if self._ascii else len(data.translate(None, ASCII_BYTES))
            self._sizes = len(data) * counts[0], non_ascii * counts[0]
        elif max(counts) == 1:  # every run once: the data less its separators
            separators = len(self.part.separator) * (len(counts) - 1)
            non_ascii = 0 if self._ascii else len(data.translate(None, ASCII_BYTES))
            self._sizes = len(data) - separators, non_ascii
        else:
            runs = data.split(self.part.separator.encode("ascii"))
            length = sum(len(r) * n for r, n in zip(runs, counts, strict=True))
            non_ascii = 0
            if not self._ascii:
                non_ascii = sum(
                    len(r.translate(None, ASCII_BYTES)) * n
                    for r, n in zip(runs, counts, strict=True)
                )
            self._sizes = length, non_ascii
        return self._sizes

    def encoded(self, qp: bool) -> list[bytes]:
        """Each distinct run's bytes, quoted-printable or 7bit (CRLF), computed once."""
        if qp:
            if self._qp is None:
                encoded = quoted_printable(self.data)
                self._qp_dots = _dotted(encoded)
                self._qp = encoded.split(self.part.crlf_separator)
            return self._qp
        if self._crlf is None:
            encoded = self.data.replace(b"\n", b"\r\n")
            self._crlf_dots = _dotted(encoded)
            self._crlf = encoded.split(self.part.crlf_separator)
        return self._crlf

    def dots(self, qp: bool) -> bool:
        """Whether a line of `encoded(qp)` starts with a dot (after calling it)."""
        return self._qp_dots if qp else self._crlf_dots


class _RunGroup:
    """The runs of a part that hold the same slots, filled and encoded together.

    Their bytes depend on those slots' values alone, so they are kept for the next
    recipient with the same values: a part's `{{ subscriber.first_name | default(...) }}`
    lines cost nothing again for the next reader called Ann, or without a first name,
    while the lines that hold the unsubscribe link are encoded for everyone.
    Identical runs (the same line of text and slots, repeated) are encoded once.
    A group whose values seldom repeat would only pay for being kept apart: after
    REGROUP_AFTER readers, such groups become one that is never kept (`_regroup`).
    """

    def __init__(self, part: CompiledPart, held: tuple[int, ...], keep: bool) -> None:
        self.part = part
        self.held = held
        self.keep = keep
        self.lookups = 0
        self.hits = 0
        self.places: list[tuple[int, int]] = []  # (place in the part, distinct run)
        self._formats: list[str] = []
        self._counts: list[int] = []
        self._format = ""
        self._cache: dict[tuple[str, ...], _Filled] = {}

    def place(self, place: int, format_source: str) -> None:
        if format_source in self._formats:
            index = self._formats.index(format_source)
            self._counts[index] += 1
        else:
            index = len(self._formats)
            self._formats.append(format_source)
            self._counts.append(1)
        self.places.append((place, index))

    def seal(self) -> None:
        """Every run is placed: one format for them all."""
        self._format = self.part.separator.join(self._formats)

    def filled(self, values: list[str]) -> _Filled:
        if self.keep:
            self.lookups += 1
            key = tuple([values[i] for i in self.held])
            found = self._cache.get(key)
            if found is not None:
                self.hits += 1
                return found
        text = self._format.format(*values)
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        found = _Filled(self.part, self.part._data(text), self._counts)
        if self.keep:
            if len(self._cache) >= FILLED_KEPT:
                self._cache.clear()
            self._cache[key] = found
        return found


class SlotRender:
    """The slots of a message's subject and parts, rendered for a recipient in one pass.

    Three renders a message (subject, HTML, text) each paid for a Jinja context, the
    budget's clock and the render loop: 12% of building one (bench/send.py). Here the
    slot expressions of all three form one template of the HTML environment; those of
    the subject and of the plain-text part sit in an `autoescape false` scope, which
    is all that tells the text environment apart, so every value is printed as before.

    `{{ campaign.subject }}` in a part reads the subject being rendered in the same
    pass: its value is the subject itself, escaped in HTML, filled in afterwards. Any
    other use of `campaign` in a part needs the subject first: then the subject takes
    its own full render before this one (`subject` is None).
    """

    def __init__(self, subject: CompiledPart | None, parts: Sequence[CompiledPart | None]) -> None:
        if subject is not None and any(
            "campaign" in _names(e) and not _is_subject(e)
            for part in parts
            if part is not None
            for e in part.expressions
        ):
            subject = None
        self.subject = subject
        self.parts = list(parts)
        self.derived: list[tuple[int, bool]] = []  # (position, html) of the subject's copies
        body: list[nodes.Node] = []
        position = 0
        for part in [subject, *parts]:
            if part is None:
                continue
            outputs: list[nodes.Node] = []
            for expression in part.expressions:
                if subject is not None and part is not subject and _is_subject(expression):
                    self.derived.append((position, part.html))
                else:
                    outputs.append(nodes.Output([expression]).set_lineno(expression.lineno))
                position += 1
            if part.html:
                body.extend(outputs)
            elif outputs:
                plain = nodes.Keyword("autoescape", nodes.Const(False))
                body.append(nodes.ScopedEvalContextModifier([plain], outputs).set_lineno(1))
        self.rendered = position - len(self.derived)
        self.count = sum(part is not None for part in [subject, *parts])
        env = environment(html=True)
        template = nodes.Template(body, lineno=1)
        template.set_environment(env)
        self.template = env.from_string(template)

    def render(
        self, context: Mapping[str, Any], limits: Budget
    ) -> tuple[str | None, list[list[str] | None]] | None:
        """(the subject, or None if not among the slots; each part's slot values, or None
        where that part must take the full render), or None: everything does."""
        if not self.rendered:
            values: list[str] = []
        else:
            both = Budget(limits.seconds, limits.max_chars * self.count)
            try:
                pieces = render_pieces(self.template, context, both)
            except Exception:  # the full render reports it, with the right line
                return None
            if len(pieces) != self.rendered:
                return None
            # Plain strings: str.format takes a Markup (the escaped HTML values) the slow way.
            values = [str(v) for v in pieces]
        subject = None
        start = 0
        if self.subject is not None:
            start = self.subject.slot_count
            own = values[:start]
            if not self.subject.fits(own, limits):
                return None
            subject = clean_subscriber_value(self.subject.text(own))
            for position, html in self.derived:
                values.insert(position, str(escape(subject)) if html else subject)
        filled: list[list[str] | None] = []
        for part in self.parts:
            if part is None:
                filled.append(None)
                continue
            own = values[start : start + part.slot_count]
            start += part.slot_count
            filled.append(own if part.fits(own, limits) else None)
        return subject, filled


def _is_subject(expression: nodes.Expr) -> bool:
    """`{{ campaign.subject }}` exactly, as layouts put it in <title>."""
    return (
        isinstance(expression, nodes.Getattr)
        and expression.attr == "subject"
        and isinstance(expression.node, nodes.Name)
        and expression.node.name == "campaign"
    )


def _dotted(data: bytes) -> bool:
    """Whether a line of `data`, which starts a line, starts with a dot (a separator line
    between runs never does)."""
    return data[:1] == b"." or _DOT_AFTER_NEWLINE.search(data) is not None


def _held(run: list[str | int]) -> tuple[int, ...]:
    return tuple(sorted({p for p in run if isinstance(p, int)}))


def _format_piece(piece: str | int) -> str:
    """A piece of text as `str.format` source: constant text escaped, a slot as its field."""
    return piece.replace("{", "{{").replace("}", "}}") if isinstance(piece, str) else f"{{{piece}}}"


def _names(expression: nodes.Node) -> set[str]:
    """Every variable the expression reads (find_all skips the node itself)."""
    found = [expression, *expression.find_all(nodes.Name)]
    return {n.name for n in found if isinstance(n, nodes.Name)}


def _evaluate(
    env: Any, expression: nodes.Expr, constants: Mapping[str, Any], limits: Budget
) -> str | None:
    """An output that reads only campaign constants, printed as the template would print
    it; None if it fails or runs over the budget (it stays a slot: the full render of each
    recipient then reports it, as without slots)."""
    template = env.from_string(nodes.Template([nodes.Output([expression])]))
    try:
        return "".join(render_pieces(template, dict(constants), limits))
    except Exception:
        return None


def _flatten(
    body: list[nodes.Node], env: Any, constants: Mapping[str, Any], limits: Budget
) -> list[nodes.Output]:
    """The template's outputs in order, with `{% if %}` on campaign constants decided now."""
    outputs: list[nodes.Output] = []
    for node in body:
        if isinstance(node, nodes.Output):
            outputs.append(node)
        elif isinstance(node, nodes.If):
            outputs.extend(_flatten(_branch(node, env, constants, limits), env, constants, limits))
        else:
            raise NotLinear(type(node).__name__)
    return outputs


def _branch(
    node: nodes.If, env: Any, constants: Mapping[str, Any], limits: Budget
) -> list[nodes.Node]:
    """The body an `{% if %}` / `{% elif %}` chain takes, its tests reading only constants."""
    for test, body in [(node.test, node.body), *((e.test, e.body) for e in node.elif_)]:
        if not _names(test) <= CAMPAIGN_CONSTANTS:
            raise NotLinear("a condition on the recipient")
        decided = nodes.If(test, [nodes.Output([nodes.TemplateData("1")])], [], [])
        template = env.from_string(nodes.Template([decided]))
        try:
            taken = "".join(render_pieces(template, dict(constants), limits))
        except Exception:
            raise NotLinear("a condition that fails") from None
        if taken:
            return body
    return node.else_
