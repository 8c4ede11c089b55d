"""Errors raised while compiling and building campaign messages."""

from collections.abc import Sequence
from typing import TYPE_CHECKING

from postroom.errors import InvalidInput, PostroomError

if TYPE_CHECKING:
    from postroom.campaigns.templating import TemplateProblem


class TemplateError(InvalidInput):
    """A campaign template was refused; `problems` lists each one with its line."""

    def __init__(self, problems: Sequence["TemplateProblem"]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems) or "invalid template")


class HeaderError(InvalidInput):
    """A header built from a campaign field is invalid (CR/LF, bad name, reserved name)."""


class RenderError(PostroomError):
    """One recipient's message could not be rendered; the send records it and goes on."""
