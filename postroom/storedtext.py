"""Texts stored in English and read in the reader's language.

A campaign event, a pause reason, an import's rejection reason is written once,
often by a worker that speaks no language, and read later by admins who speak
several. It is stored in English, made from a template (`template % values`),
so that the API, the CLI and the rejects file keep one language. A page
translates it as it shows it: the template it was made from is found again by
its shape, translated, and filled with the same values (a server's reply, a
sender's name stay as they were; a value that is itself a stored text is
translated too).

Templates live in each app's `texts.py`, registered with `template()` and
marked for extraction with this module's `gettext_noop` (Django's reads the
settings when called, so a module-level template would load them on import, and
the CLI could no longer report a bad setting in one line):

    SENDER_DOWN = template(gettext_noop("sender %(name)s cannot be reached: %(error)s"))
    events.record(campaign_id, kind, SENDER_DOWN % {"name": name, "error": error})

A page calls `translated(text)` (the `stored_text` filter); a text no template
made (an older row, a library's own message) is shown as it is. Plurals: the
writer picks the singular or the plural template by its count, both registered.

What is stored must be English even when a German request or a German admin's
command wrote it: a message taken from an exception (`str(exc)`) is gettext'd
where it was raised, so the code that makes and stores it runs `in_english`.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, wraps
from typing import ParamSpec, TypeVar

from django.utils import translation
from django.utils.module_loading import autodiscover_modules
from django.utils.translation import gettext

PLACEHOLDER = re.compile(r"%\((\w+)\)([sd])")
P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class _Shape:
    template: str
    prefix: str  # the literal text before the first value: a cheap first test
    pattern: re.Pattern[str]
    numbers: frozenset[str]  # the %(name)d values, given back to gettext as numbers


_shapes: dict[str, _Shape] = {}
_ordered: list[_Shape] = []  # the most literal first, the order _match tries them in
_discovered = False


def gettext_noop(text: str) -> str:
    """Mark `text` for the catalogue (makemessages extracts it by this name)."""
    return text


def template(text: str) -> str:
    """Register `text` (an English template with %(name)s values) and return it."""
    if text not in _shapes:
        _shapes[text] = _shape(text)
        forget()
    return text


def forget() -> None:
    """After a change to the templates: matches and their order are worked out again."""
    _match.cache_clear()
    _ordered.clear()


def _shape(text: str) -> _Shape:
    parts, seen, at = [], set(), 0
    for found in PLACEHOLDER.finditer(text):
        parts.append(re.escape(_literal(text[at : found.start()])))
        name, kind = found.groups()
        if name in seen:
            parts.append(f"(?P={name})")
        else:
            parts.append(f"(?P<{name}>-?\\d+)" if kind == "d" else f"(?P<{name}>.*?)")
            seen.add(name)
        at = found.end()
    parts.append(re.escape(_literal(text[at:])))
    first = PLACEHOLDER.search(text)
    prefix = _literal(text[: first.start()] if first else text)
    numbers = frozenset(name for name, kind in PLACEHOLDER.findall(text) if kind == "d")
    return _Shape(text, prefix, re.compile("".join(parts), re.DOTALL), numbers)


def _literal(text: str) -> str:
    """A template's literal text as it reads once filled: "%%" is "%"."""
    return text.replace("%%", "%")


@lru_cache(maxsize=4096)
def _match(text: str) -> tuple[_Shape, tuple[tuple[str, str], ...]] | None:
    """The template `text` was made from and its values; the most literal one wins."""
    if not _ordered:
        _ordered.extend(
            sorted(_shapes.values(), key=lambda s: -len(_literal(PLACEHOLDER.sub("", s.template))))
        )
    for shape in _ordered:
        if not text.startswith(shape.prefix):
            continue
        found = shape.pattern.fullmatch(text)
        if found:
            return shape, tuple(found.groupdict().items())
    return None


def translated(text: str, depth: int = 6) -> str:
    """`text` in the active language if a registered template made it; else as it is.
    A value that is itself a stored text is translated too (`depth` levels)."""
    global _discovered
    if not _discovered:
        autodiscover_modules("texts")
        _discovered = True
    found = _match(text) if text and depth > 0 else None
    if found is None:
        return text
    shape, values = found
    filled: dict[str, str | int] = {
        name: int(value) if name in shape.numbers else translated(value, depth - 1)
        for name, value in values
    }
    return gettext(shape.template) % filled


def in_english(func: Callable[P, R]) -> Callable[P, R]:
    """`func` runs in English: the texts it stores (some from exceptions' messages, which
    speak the active language) are English whoever's request or command ran it."""

    @wraps(func)
    def english(*args: P.args, **kwargs: P.kwargs) -> R:
        with translation.override("en"):
            return func(*args, **kwargs)

    return english
