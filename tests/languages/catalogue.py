"""A reader for gettext .po files, enough for the catalogues `scripts/messages` writes.

Python's standard library reads only compiled .mo files; the tests need the .po
text itself: which messages it holds, their translations and their flags.
"""

import ast
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Entry:
    msgid: str
    context: str | None = None
    plural: str | None = None
    translations: list[str] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)
    obsolete: bool = False

    @property
    def key(self) -> tuple[str | None, str]:
        return (self.context, self.msgid)

    @property
    def translated(self) -> bool:
        return bool(self.translations) and all(t.strip() for t in self.translations)


def _string(line: str) -> str:
    # A .po string is a C string literal; these escapes are Python's too.
    return ast.literal_eval(line.strip())


def read(path: Path) -> list[Entry]:
    """The entries of a .po file, the header (msgid "") first."""
    entries: list[Entry] = []
    flags: set[str] = set()
    current: Entry | None = None
    target: tuple[str, int] | None = None  # which string continuation lines extend
    obsolete = False

    def finish() -> None:
        nonlocal current, flags, obsolete
        if current is not None:
            current.flags, current.obsolete = flags, obsolete
            entries.append(current)
        current, flags, obsolete = None, set(), False

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw
        if line.startswith("#~"):
            obsolete = True
            line = line[2:].strip()
        if not line.strip():
            finish()
            target = None
            continue
        if line.startswith("#,"):
            if current is not None and target is not None and target[0] == "msgstr":
                finish()
            flags |= {f.strip() for f in line[2:].split(",")}
            continue
        if line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        if line.startswith('"'):
            assert current is not None and target is not None, f"{path}: stray string {line!r}"
            _extend(current, target, _string(line))
        elif keyword == "msgctxt":
            if current is not None and target is not None and target[0] == "msgstr":
                finish()
            current = Entry(msgid="", context=_string(rest))
            target = ("msgctxt", 0)
        elif keyword == "msgid":
            if current is not None and target is not None and target[0] == "msgstr":
                finish()
            if current is None:
                current = Entry(msgid="")
            current.msgid = _string(rest)
            target = ("msgid", 0)
        elif keyword == "msgid_plural":
            assert current is not None
            current.plural = _string(rest)
            target = ("msgid_plural", 0)
        elif keyword.startswith("msgstr"):
            assert current is not None
            index = int(keyword[7:-1]) if keyword.startswith("msgstr[") else 0
            while len(current.translations) <= index:
                current.translations.append("")
            current.translations[index] = _string(rest)
            target = ("msgstr", index)
        else:
            raise ValueError(f"{path}: cannot read {raw!r}")
    finish()
    return entries


def _extend(entry: Entry, target: tuple[str, int], text: str) -> None:
    kind, index = target
    if kind == "msgctxt":
        entry.context = (entry.context or "") + text
    elif kind == "msgid":
        entry.msgid += text
    elif kind == "msgid_plural":
        entry.plural = (entry.plural or "") + text
    else:
        entry.translations[index] += text


def messages(path: Path) -> dict[tuple[str | None, str], Entry]:
    """The live messages of a catalogue (no header, no obsolete entries), by (context, id)."""
    return {e.key: e for e in read(path) if e.msgid and not e.obsolete}
