"""A message part compiled once per campaign: constant text encoded once, slots per recipient.

Rendering the whole 17 KB HTML and 9.5 KB text templates for every recipient
and quoted-printable-encoding the whole text part again cost about half of a
worker's CPU (bench/send.py --profile: 30 Jinja renders, 98 sandboxed lookups
and one 9.5 KB `b2a_qp` per message). Yet nearly all of those bytes are the
same for every recipient. So a part whose template is *linear* — constant
text and `{{ expression }}` outputs, with `{% if %}` only on campaign constants
such as `list.name` — is split here into constant lines and slots:

- the distinct slot expressions are rendered per recipient by one small
  template made of exactly those expression nodes, in the same sandboxed
  environment (same escaping, `default`, undefined values, budget), so each
  value is the string the full template would have printed at that place
  (only the time budget is spent once per distinct expression, not per print);
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

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import nodes

from postroom.mail.budget import DEFAULT_BUDGET, Budget
from postroom.mail.mime import ASCII_BYTES, quoted_printable, short_lines
from postroom.mail.templating import environment, render_pieces

# Names whose value is the same for every recipient of a campaign: a condition
# or an output that reads only these is settled when the campaign is compiled.
CAMPAIGN_CONSTANTS = frozenset({"list"})


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
    """One text part (HTML or plain) of a campaign, ready to be filled per recipient."""

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
        self.slot_count = len(expressions)
        self.constant_chars = sum(len(p) for p in pieces if isinstance(p, str))
        template = nodes.Template([nodes.Output([e]).set_lineno(e.lineno) for e in expressions])
        self.slot_template = env.from_string(template)
        self.slot_template.postroom_lines = source.splitlines()  # type: ignore[attr-defined]
        self._pieces = pieces

    def prepare(self, charrefs: bool) -> None:
        """Encode the constant lines once (after the caller decides on character references).

        The part becomes constant lines C0 R0 C1 R1 … Cn, where each R is a run of lines
        holding slots. Per recipient the runs are filled by one `str.format` call, joined by
        a line of this compile's random SEPARATOR, and encoded in one pass; splitting the
        result at the separator gives each run's bytes. The separator is a line of letters
        and digits, which every encoding leaves as it is, and unguessable.
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
        self.runs = len(runs)
        self.format = self.separator.join(
            "".join(
                p.replace("{", "{{").replace("}", "}}") if isinstance(p, str) else f"{{{p}}}"
                for p in run
            )
            for run in runs
        )
        self.whole = _Lines(
            crlf=b"".join(c.crlf for c in self.constants),
            qp=b"".join(c.qp for c in self.constants),
            length=sum(c.length for c in self.constants),
            non_ascii=sum(c.non_ascii for c in self.constants),
            clean=all(c.clean for c in self.constants),
            has_boundary=any(c.has_boundary for c in self.constants),
        )

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

    def values(self, context: Mapping[str, Any], limits: Budget, part: str) -> list[str] | None:
        """Each slot's value for this recipient, or None: take the full render instead.

        The full render counts every printed value against the size budget; a slot is
        printed once here, so the size is counted with each slot's repeats. The time
        budget applies to this render: a value printed 30 times is computed once.
        """
        if not self.slot_count:
            return []
        try:
            values = render_pieces(self.slot_template, context, limits, part)
        except Exception:  # the full render reports it, with the right line
            return None
        if len(values) != self.slot_count:
            return None
        size = self.constant_chars + sum(
            len(v) * n for v, n in zip(values, self.multiplicity, strict=True)
        )
        if size > limits.max_chars:
            return None
        # Plain strings: str.format takes a Markup (the escaped HTML values) the slow way.
        return [str(v) for v in values]

    def encode(self, values: list[str]) -> tuple[str, bytes] | None:
        """(Content-Transfer-Encoding, body) exactly as `mime.encode_body` of the rendered text;
        None when the text would need base64 (rare: mostly non-Latin text), left to it."""
        whole = self.whole
        if not self.runs:
            data = b""
        else:
            text = self.format.format(*values)
            if "\r" in text:
                text = text.replace("\r\n", "\n").replace("\r", "\n")
            data = self._data(text)
        # The separators are ASCII, short lines and no boundary: they change no verdict.
        length = whole.length + len(data) - len(self.separator) * (self.runs - 1)
        ascii_data = data.isascii()
        clean = whole.clean and ascii_data and b"\x00" not in data and short_lines(data)
        if clean and not (whole.has_boundary or (self.boundary and self.boundary in data)):
            cte, encoded, pieces = "7bit", data.replace(b"\n", b"\r\n"), self._crlf
        else:
            non_ascii = whole.non_ascii + (
                0 if ascii_data else len(data.translate(None, ASCII_BYTES))
            )
            if not clean and non_ascii * 6 >= length:
                return None
            cte, encoded, pieces = "quoted-printable", quoted_printable(data), self._qp
        if not self.runs:
            return cte, pieces()[0]
        separator = self.separator.encode("ascii").replace(b"\n", b"\r\n")
        out = pieces()
        out[1::2] = encoded.split(separator)
        return cte, b"".join(out)

    def _crlf(self) -> list[bytes]:  # b"": a place for a run, filled in by the caller
        return [c for constant in self.constants for c in (constant.crlf, b"")][:-1]

    def _qp(self) -> list[bytes]:
        return [c for constant in self.constants for c in (constant.qp, b"")][:-1]


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
