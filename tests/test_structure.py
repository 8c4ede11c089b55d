"""The shape of the code, checked: imports go one way.

Every `import postroom…` counts, also those inside functions, except under
`if TYPE_CHECKING:` (never run). Function-level imports are allowed only where
they must be: in command-line entry points (cli.py, __main__.py), which load
before Django is set up, and in AppConfig.ready() (apps.py: Django's app loading).
"""

import ast
import io
import re
import tokenize
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "postroom"
# Apps that serve people over HTTP: no domain app may import them.
INTERFACES = ("web", "api")


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def _resolve(name: str) -> str:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name


def _type_checking_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def _imports(path: Path) -> list[tuple[str, int, bool]]:
    """(imported postroom module, line, inside a function) for every import in `path`."""
    tree = ast.parse(path.read_text())
    skip = _type_checking_lines(tree)
    in_function: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for child in ast.walk(node):
                if isinstance(child, (ast.Import, ast.ImportFrom)):
                    in_function.add(id(child))
    found = []
    for node in ast.walk(tree):
        if node.__class__ not in (ast.Import, ast.ImportFrom) or node.lineno in skip:
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif node.module and not node.level:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            target = _resolve(name) if name.startswith("postroom") else ""
            if target:
                found.append((target, node.lineno, id(node) in in_function))
    return found


GRAPH = {
    module: {target for target, _, _ in _imports(path) if target != module}
    for module, path in MODULES.items()
}


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in GRAPH.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(GRAPH):
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_itself_round_a_circle():
    assert _cycles() == []


def test_imports_inside_functions_only_in_cli_and_app_loading():
    hidden = [
        f"{path.relative_to(PACKAGE.parent)}:{line} imports {target}"
        for module, path in MODULES.items()
        if path.name not in ("cli.py", "__main__.py", "apps.py")
        for target, line, inside in _imports(path)
        if inside
    ]
    assert hidden == []


def test_no_domain_app_imports_the_web_ui_or_the_api():
    def app(module: str) -> str:
        return module.split(".")[1] if module.count(".") else ""

    upward = sorted(
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        if app(module) not in INTERFACES and not module.endswith((".cli", "urls"))
        for target in targets
        if app(target) in INTERFACES
    )
    assert upward == []


def test_the_checks_see_the_code():
    """The walk finds the package and its imports (else every test above passes vacuously)."""
    assert len(MODULES) > 150
    assert "postroom.campaigns.models" in GRAPH["postroom.campaigns.lifecycle"]


WRITES = ("update", "create", "get_or_create", "update_or_create")


def _literal_status(value: ast.expr) -> bool:
    """A status named in the code (`Status.RUNNING`, "running"), not one the lifecycle chose."""
    text = ast.unparse(value)
    return "Status." in text or isinstance(value, ast.Constant)


def test_only_the_lifecycle_writes_a_campaigns_status():
    """Every `Campaign.status` change goes through campaigns/lifecycle.py and its table."""
    found = []
    for module, path in MODULES.items():
        if module == "postroom.campaigns.lifecycle":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            where = f"{path.relative_to(PACKAGE.parent)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if (
                        isinstance(target, ast.Attribute)
                        and target.attr == "status"
                        and "campaign" in ast.unparse(target.value).lower()
                        and _literal_status(node.value)
                    ):
                        found.append(where)
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in WRITES
                and "Campaign.objects" in ast.unparse(node.func.value)
            ):
                for keyword in node.keywords:
                    if keyword.arg == "status" and _literal_status(keyword.value):
                        found.append(where)
    assert found == []


PLANNING = re.compile(r"\((?:[A-Z]|[A-Z], [A-Z])\)|\binterface [0-9]\b|\b[A-Z]'s (?!own)")


def test_no_comment_points_at_a_planning_letter():
    """Comments and docstrings name modules and reasons, not the letters of a plan."""
    found = []
    for path in MODULES.values():
        source = path.read_text()
        texts = [
            (token.start[0], token.string)
            for token in tokenize.generate_tokens(io.StringIO(source).readline)
            if token.type in (tokenize.COMMENT, tokenize.STRING)
        ]
        found += [
            f"{path.relative_to(PACKAGE.parent)}:{line}: {match.group(0)}"
            for line, text in texts
            for match in PLANNING.finditer(text)
        ]
    assert found == []


def test_no_code_checks_whether_its_own_modules_exist():
    """A module imports what it needs; it does not probe for parts of its own package."""
    probes = re.compile(r"find_spec\(|except (?:ImportError|ModuleNotFoundError)")
    found = [
        f"{path.relative_to(PACKAGE.parent)}:{number}"
        for path in MODULES.values()
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if probes.search(line)
    ]
    assert found == []


def test_each_import_at_app_loading_says_why():
    """AppConfig.ready() may import (Django's app loading demands it), with a comment saying why."""
    silent = []
    for path in PACKAGE.rglob("apps.py"):
        source = path.read_text()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef) and any(
                isinstance(child, (ast.Import, ast.ImportFrom)) for child in ast.walk(node)
            ):
                lines = source.splitlines()[node.lineno - 1 : node.end_lineno]
                if not any("#" in line for line in lines):
                    silent.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    assert silent == []
