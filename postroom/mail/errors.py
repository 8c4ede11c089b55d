"""Errors raised while compiling and building campaign messages."""

from collections.abc import Sequence
from dataclasses import dataclass

from postroom.errors import InvalidInput, PostroomError
from postroom.mail.language import gettext


@dataclass(frozen=True)
class TemplateProblem:
    """One problem in a template, with the 1-based line it is on."""

    line: int
    message: str
    field: str = ""

    def __str__(self) -> str:
        if self.field:
            return gettext("%(field)s, line %(line)s: %(problem)s") % {
                "field": self.field,
                "line": self.line,
                "problem": self.message,
            }
        return gettext("line %(line)s: %(problem)s") % {"line": self.line, "problem": self.message}


class TemplateError(InvalidInput):
    """A campaign template was refused; `problems` lists each one with its line."""

    def __init__(self, problems: Sequence[TemplateProblem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems) or gettext("invalid template"))

    @classmethod
    def from_render_error(cls, exc: "RenderError") -> "TemplateError":
        detail = f"{exc.detail}: {exc.quote}" if exc.quote else exc.detail
        return cls([TemplateProblem(exc.line or 1, detail, exc.part)])


class HeaderError(InvalidInput):
    """A header built from a campaign field is invalid (CR/LF, bad name, reserved name)."""


class RenderError(PostroomError):
    """One recipient's message could not be rendered; the send records it and goes on.

    `line` is the template line where it failed (when known), `part` the part
    being rendered ("subject", "HTML part", ...), `detail` the message without them.
    """

    def __init__(
        self, detail: str, *, line: int | None = None, part: str = "", quote: str = ""
    ) -> None:
        self.detail, self.line, self.part, self.quote = detail, line, part, quote
        at_line = gettext("line %(line)s") % {"line": line} if line else ""
        where = ", ".join(w for w in (part, at_line) if w)
        if where and quote:
            where += f": {quote}"
        super().__init__(f"{detail} ({where})" if where else detail)


class TemplateBudgetError(RenderError):
    """The template ran out of its time or size budget while rendering.

    At send time the row fails with this reason and a campaign that keeps
    hitting it pauses; on save and in previews it is a TemplateError.
    """
