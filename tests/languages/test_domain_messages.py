"""The domain's refusals are translatable: a page shows them in the admin's language.

Domain functions raise a PostroomError with a one-line message; views show it in a
flash message or a form error, the API returns it (in the caller's `Accept-Language`)
and the CLI prints it (in English: it activates no language). So the message is
marked where it is raised: `gettext("the list %(name)s …") % {...}`, not an
f-string. This test reads the package's source and fails on any raise of a
PostroomError (or a subclass) whose message is written out in English, unmarked.

Command-line modules and the settings (refusals of a terminal user, or of the
environment before Django runs) are English by design and not checked.
"""

import ast
from pathlib import Path

from django.conf import settings

PACKAGE = Path(settings.BASE_DIR)
ENGLISH_ONLY = {"cli.py", "settings.py"}
MARKERS = {"gettext", "ngettext", "pgettext", "npgettext", "_"}


def sources() -> dict[Path, ast.Module]:
    return {
        path: ast.parse(path.read_text(), str(path))
        for path in PACKAGE.rglob("*.py")
        if "migrations" not in path.parts and "testing" not in path.parts
    }


def error_classes(trees: dict[Path, ast.Module]) -> set[str]:
    """PostroomError and every class that derives from it, by name, to a fixed point."""
    names = {"PostroomError"}
    classes = [node for tree in trees.values() for node in ast.walk(tree)]
    classes = [node for node in classes if isinstance(node, ast.ClassDef)]
    while True:
        more = {c.name for c in classes if any(_name(b) in names for b in c.bases)} - names
        if not more:
            return names
        names |= more


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def is_written_out(message: ast.expr) -> bool:
    """A literal the reader would get in English: a string, an f-string, or one of
    those formatted or joined. A marked call, a variable or a helper's result is not."""
    if isinstance(message, ast.Constant):
        return isinstance(message.value, str)
    if isinstance(message, ast.JoinedStr):
        return True
    if isinstance(message, ast.BinOp):
        return is_written_out(message.left) or (
            isinstance(message.op, ast.Add) and is_written_out(message.right)
        )
    if isinstance(message, ast.Call) and isinstance(message.func, ast.Attribute):
        return message.func.attr == "format" and is_written_out(message.func.value)
    return False


def test_every_refusal_a_page_can_show_is_marked_for_translation():
    trees = sources()
    errors = error_classes(trees)
    assert {"InvalidInput", "NotFound", "Conflict", "InvalidEmail", "TemplateError"} <= errors
    unmarked = []
    for path, tree in sorted(trees.items()):
        if path.name in ENGLISH_ONLY:
            continue
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)):
                continue
            if _name(node.exc.func) not in errors or not node.exc.args:
                continue
            if is_written_out(node.exc.args[0]):
                where = f"{path.relative_to(PACKAGE.parent)}:{node.lineno}"
                unmarked.append(f"{where}: {ast.unparse(node.exc.args[0])[:80]}")
    assert not unmarked, f"{len(unmarked)} refusals in English only:\n" + "\n".join(unmarked)


def test_the_check_itself_tells_marked_from_written_out():
    def first_argument(source: str) -> ast.expr:
        call = ast.parse(source).body[0].value  # type: ignore[attr-defined]
        return call.args[0]

    assert is_written_out(first_argument('E("no such list")'))
    assert is_written_out(first_argument('E(f"no list {name!r}")'))
    assert is_written_out(first_argument('E("no list %s" % name)'))
    assert is_written_out(first_argument('E("no list " + name)'))
    assert is_written_out(first_argument('E("no list {}".format(name))'))
    assert not is_written_out(first_argument('E(gettext("no list %(name)s") % {"name": n})'))
    assert not is_written_out(first_argument('E(ngettext("a", "b", n) % {"count": n})'))
    assert not is_written_out(first_argument("E(reason)"))
    assert not is_written_out(first_argument("E(str(exc))"))
