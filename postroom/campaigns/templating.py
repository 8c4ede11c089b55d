"""Sandboxed Jinja2 for user-authored campaign templates.

Campaign authors write subject, preheader, body and layouts in Jinja2. Those
templates are rendered once per recipient with subscriber data, so three things
matter: they can never reach Python internals, settings or files (sandbox); a
typo is reported with its line when the campaign is saved, not discovered at
send time (`check_template`); and a missing value renders as an empty string,
never as "None" or an exception half-way through a send.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import ChainableUndefined, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from postroom.campaigns.errors import RenderError

# The variables a campaign template may use. For a namespace, the set lists its
# allowed attributes; None means "anything below is allowed" (free-form data).
VARIABLES: dict[str, set[str] | None] = {
    "subscriber": {"email", "name", "first_name", "last_name", "attributes"},
    "list": {"name"},
    "campaign": {"name", "subject"},
    "unsubscribe_url": set(),
    "preferences_url": set(),
    "view_url": set(),
}

# Filters that take a size argument can build huge strings (`center(10**9)`),
# `random` makes resends differ, `pprint` shows Python reprs, and `safe` would
# let an author switch off escaping of subscriber data.
_REMOVED_FILTERS = {
    "center",
    "indent",
    "wordwrap",
    "batch",
    "slice",
    "random",
    "pprint",
    "safe",
    "forceescape",
    "filesizeformat",
}

# Names a dict answers as attributes (methods); any other missing key is simply undefined.
_DICT_ATTRIBUTES = frozenset(dir(dict))

MAX_RANGE = 1000  # loops in a newsletter are short; a big range is a mistake or an attack
MAX_STRING = 100_000  # longest string `*` may build


@dataclass(frozen=True)
class TemplateProblem:
    """One problem in a template, with the 1-based line it is on."""

    line: int
    message: str
    field: str = ""

    def __str__(self) -> str:
        where = f"{self.field}, line {self.line}" if self.field else f"line {self.line}"
        return f"{where}: {self.message}"


class _Undefined(ChainableUndefined):
    """Missing values (and anything below them) render as an empty string."""

    __slots__ = ()


def _finalize(value: Any) -> Any:
    return "" if value is None else value


def _default(value: Any, fallback: Any = "", boolean: bool = True) -> Any:
    """`default` that also replaces None and "": an empty first name wants the fallback too."""
    if isinstance(value, ChainableUndefined) or value is None:
        return fallback
    if boolean and isinstance(value, str) and not value.strip():
        return fallback
    return value


def _range(*args: int) -> range:
    result = range(*args)
    if len(result) > MAX_RANGE:
        raise SecurityError(f"range() is limited to {MAX_RANGE} items")
    return result


class CampaignEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox: no internals, no mutation, bounded ranges and repetition."""

    intercepted_binops = frozenset({"*", "**"})

    def __init__(self, *, html: bool) -> None:
        super().__init__(
            autoescape=html,
            undefined=_Undefined,
            finalize=_finalize,
            keep_trailing_newline=True,
            auto_reload=False,
            cache_size=0,
        )
        # Nothing global but what a newsletter needs: no lipsum/cycler/joiner
        # (their __globals__ were the classic escape route and lipsum can DoS).
        self.globals = {"range": _range, "dict": dict}
        for name in _REMOVED_FILTERS:
            self.filters.pop(name, None)
        self.filters["default"] = self.filters["d"] = _default

    def getattr(self, obj: Any, attribute: str) -> Any:
        # Template data is dicts; the stock path tries getattr() first and pays
        # for an AttributeError on every `subscriber.name`. A key's value is
        # data, never an internal, so returning it is safe — and it makes
        # `subscriber.attributes.items` the subscriber's "items", not dict.items.
        if type(obj) is dict:
            try:
                return obj[attribute]
            except KeyError:
                # A missing `subscriber.attributes.city` is common; the stock path
                # would raise and catch two more exceptions to say "undefined".
                if attribute not in _DICT_ATTRIBUTES:
                    return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        # The stock sandbox returns an Undefined, which our lenient Undefined
        # would print as "" — an escape attempt must fail loudly instead.
        raise SecurityError(
            f"access to attribute {attribute!r} of {type(obj).__name__!r} is not allowed"
        )

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            if isinstance(right, int | float) and abs(right) > 100:
                raise SecurityError("exponent too large")
            return left**right
        for seq, times in ((left, right), (right, left)):
            sized = isinstance(seq, str | list | tuple) and isinstance(times, int)
            if sized and len(seq) * times > MAX_STRING:
                raise SecurityError("repetition result too large")
        return left * right


HTML_ENV = CampaignEnvironment(html=True)
TEXT_ENV = CampaignEnvironment(html=False)


def environment(html: bool) -> CampaignEnvironment:
    return HTML_ENV if html else TEXT_ENV


def _names_and_attributes(ast: nodes.Template) -> Iterable[tuple[str, str | None, int]]:
    """Yield (variable, attribute or None, line) for every variable read."""
    seen_in_getattr: set[int] = set()
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        inner = node.node
        if isinstance(inner, nodes.Name) and inner.ctx == "load":
            if isinstance(node, nodes.Getattr):
                attr = node.attr
            elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
                attr = node.arg.value
            else:
                continue
            seen_in_getattr.add(id(inner))
            yield inner.name, attr, node.lineno
    for node in ast.find_all(nodes.Name):
        if node.ctx == "load" and id(node) not in seen_in_getattr:
            yield node.name, None, node.lineno


def _unsafe_attributes(ast: nodes.Template) -> Iterable[tuple[str, int]]:
    for node in ast.find_all(nodes.Getattr):
        if node.attr.startswith("_"):
            yield node.attr, node.lineno
    for node in ast.find_all(nodes.Getitem):
        arg = node.arg
        if isinstance(arg, nodes.Const) and str(arg.value).startswith("_"):
            yield str(arg.value), node.lineno
    for node in ast.find_all(nodes.Filter):  # `x|attr("__class__")`
        if node.name != "attr":
            continue
        for arg in node.args:
            if isinstance(arg, nodes.Const) and str(arg.value).startswith("_"):
                yield str(arg.value), node.lineno


def check_template(
    source: str,
    variables: Mapping[str, set[str] | None] | None = None,
    *,
    html: bool = True,
    field: str = "",
) -> list[TemplateProblem]:
    """Every problem found in `source`: syntax, unknown variables, unsafe access.

    An empty list means the template compiles and only reads allowed variables.
    """
    allowed = VARIABLES if variables is None else variables
    env = environment(html)
    try:
        ast = env.parse(source)
    except TemplateSyntaxError as exc:
        return [TemplateProblem(exc.lineno or 1, exc.message or "syntax error", field)]

    problems: list[TemplateProblem] = []
    for attr, line in _unsafe_attributes(ast):
        problems.append(TemplateProblem(line, f"access to {attr!r} is not allowed", field))

    try:
        undeclared = meta.find_undeclared_variables(ast)
    except TemplateSyntaxError as exc:  # e.g. an unknown filter, found by the code generator
        problems.append(TemplateProblem(exc.lineno or 1, exc.message or "invalid template", field))
        # Fall back to a rougher answer so unknown variables are still reported.
        stored = {n.name for n in ast.find_all(nodes.Name) if n.ctx in ("store", "param")}
        undeclared = {n.name for n in ast.find_all(nodes.Name) if n.name not in stored}
    reported: set[str] = set()
    for name, attr, line in sorted(_names_and_attributes(ast), key=lambda item: item[2]):
        if name == "self":
            label = "self"
        elif name not in undeclared or name in env.globals:
            continue
        elif name not in allowed:
            label = name
        else:
            attrs = allowed[name]
            if attrs is None or attr is None or attr in attrs:
                continue
            if attrs and attr.startswith("_"):
                continue  # already reported as unsafe
            label = f"{name}.{attr}"
        if label not in reported:
            reported.add(label)
            problems.append(TemplateProblem(line, f"unknown variable {label!r}", field))

    return sorted(problems, key=lambda p: p.line)


def compile_template(source: str, *, html: bool) -> Any:
    """A compiled template; call `check_template` first for friendly errors."""
    return environment(html).from_string(source)


def uses_variable(source: str, name: str, *, html: bool = True) -> bool:
    """True when `source` reads `name`, so costly values are computed only if used."""
    return name in meta.find_undeclared_variables(environment(html).parse(source))


def render(template: Any, context: Mapping[str, Any]) -> str:
    """Render with every failure turned into RenderError, so a send can record it."""
    try:
        return template.render(context)
    except SecurityError as exc:
        raise RenderError(f"refused by the template sandbox: {exc}") from None
    except Exception as exc:  # a user template may fail in any way; report it, don't crash
        raise RenderError(f"template failed: {type(exc).__name__}: {exc}") from None


__all__ = [
    "VARIABLES",
    "CampaignEnvironment",
    "RenderError",
    "TemplateProblem",
    "check_template",
    "compile_template",
    "render",
    "uses_variable",
]
