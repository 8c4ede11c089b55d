"""Sandboxed Jinja2 for user-authored campaign templates.

Campaign authors write subject, preheader, body and layouts in Jinja2. Those
templates are rendered once per recipient with subscriber data, so three things
matter: they can never reach Python internals, settings or files (sandbox); a
typo is reported with its line when the campaign is saved, not discovered at
send time (`check_template`); and a missing value renders as an empty string,
never as "None" or an exception half-way through a send.
"""

import sys
from collections.abc import Iterable, Mapping
from functools import update_wrapper
from types import BuiltinMethodType, MethodType
from typing import Any

from jinja2 import ChainableUndefined, TemplateSyntaxError, meta, nodes
from jinja2.compiler import CodeGenerator, Frame, optimizeconst
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

from postroom.mail import budget
from postroom.mail.budget import DEFAULT_BUDGET, Budget, OverBudget
from postroom.mail.errors import RenderError, TemplateBudgetError, TemplateProblem
from postroom.mail.language import gettext

# The variables a campaign template may use. For a namespace, the set lists its
# allowed attributes; None means "anything below is allowed" (free-form data).
VARIABLES: dict[str, set[str] | None] = {
    "subscriber": {"email", "name", "first_name", "last_name", "attributes", "language"},
    "list": {"name"},
    "campaign": {"name", "subject"},
    "unsubscribe_url": set(),
    "preferences_url": set(),
    "view_url": set(),
}

# Filters that take a size argument can build huge strings (`center(10**9)`);
# the useful ones (join, replace, format, ...) are kept with a budget check.
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


class _Undefined(ChainableUndefined):
    """Missing values (and anything below them) render as an empty string."""

    __slots__ = ()


def _finalize(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, list | tuple | dict):  # printed as one string: measure it first
        budget.limit(budget.size_of(value))
    return value


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
        raise SecurityError(gettext("range() is limited to %(most)s items") % {"most": MAX_RANGE})
    return result


class _BudgetedCodeGenerator(CodeGenerator):
    """Routes what the sandbox has no hook for through the budget: `a ~ b` (sizes
    added up before joining), `{% for %}` (a deadline at each item) and the buffers
    of macros and blocks (counted as they grow)."""

    def buffer(self, frame: Frame) -> None:
        frame.buffer = self.temporary_identifier()
        self.writeline(f"{frame.buffer} = environment.new_buffer()")

    @optimizeconst
    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        if frame.eval_ctx.volatile:
            func_name = "(markup_join if context.eval_ctx.volatile else str_join)"
        elif frame.eval_ctx.autoescape:
            func_name = "markup_join"
        else:
            func_name = "str_join"
        self.write(f"environment.checked_join({func_name}, (")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        iterable = node.iter
        wrapped = isinstance(iterable, nodes.Call) and isinstance(
            iterable.node, nodes.EnvironmentAttribute
        )
        if not wrapped:
            node.iter = nodes.Call(
                nodes.EnvironmentAttribute("budgeted_iter"), [iterable], [], None, None
            ).set_lineno(node.lineno)
        super().visit_For(node, frame)


class CampaignEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox: no internals, no mutation, bounded ranges, time and size budgets."""

    intercepted_binops = frozenset(budget.BINOPS)
    code_generator_class = _BudgetedCodeGenerator
    # The buffers of macros and blocks are joined here: their size is added up first.
    concat = staticmethod(budget.checked_concat)
    checked_join = staticmethod(budget.checked_join)
    budgeted_iter = staticmethod(budget.BudgetedIterator)
    new_buffer = staticmethod(budget.BudgetedBuffer)

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
        for name, func in list(self.filters.items()):
            self.filters[name] = budget.REPLACED_FILTERS.get(name) or budget.guarded_filter(func)
        # The hot path of every personalised line; it only ever returns a value it was given.
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
            gettext("access to attribute %(attribute)s of %(kind)s is not allowed")
            % {"attribute": repr(attribute), "kind": repr(type(obj).__name__)}
        )

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        budget.check_time()
        return budget.BINOPS[operator](left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        # Every call — a macro, a method, `loop()` — is where a template can spend
        # time without writing anything, so the deadline is checked here.
        budget.check_time()
        args = budget.method_args(__obj, args)
        size = budget.method_size(__obj, args, kwargs)
        if size is not None:
            budget.limit(size)
        return budget.checked(super().call(__context, __obj, *args, **kwargs))

    def wrap_str_format(self, value: Any) -> Any:
        """`"{:>50000000}".format(x)`: the stock wrapper, with widths counted first."""
        if not isinstance(value, MethodType | BuiltinMethodType) or value.__name__ not in (
            "format",
            "format_map",
        ):
            return None
        owner = value.__self__
        if not isinstance(owner, str):
            return None
        is_map = value.__name__ == "format_map"

        def wrapper(*args: Any, **kwargs: Any) -> str:
            if isinstance(owner, Markup):
                formatter: Any = budget.BudgetEscapeFormatter(self, escape=owner.escape)
            else:
                formatter = budget.BudgetFormatter(self)
            if is_map:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one mapping")
                kwargs, args = args[0], ()
            return type(owner)(formatter.vformat(owner, args, kwargs))

        return update_wrapper(wrapper, value)


HTML_ENV = CampaignEnvironment(html=True)
TEXT_ENV = CampaignEnvironment(html=False)


def environment(html: bool) -> CampaignEnvironment:
    return HTML_ENV if html else TEXT_ENV


def _names_and_attributes(ast: nodes.Template) -> Iterable[tuple[str, str | None, int]]:
    """Yield (variable, attribute or None, line) for every variable read."""
    seen_in_getattr: set[int] = set()
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        if not isinstance(node, (nodes.Getattr, nodes.Getitem)):  # what find_all yields
            continue
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
    for item in ast.find_all(nodes.Getitem):
        key = item.arg
        if isinstance(key, nodes.Const) and str(key.value).startswith("_"):
            yield str(key.value), item.lineno
    for call in ast.find_all(nodes.Filter):  # `x|attr("__class__")`
        if call.name != "attr":
            continue
        for arg in call.args:
            if isinstance(arg, nodes.Const) and str(arg.value).startswith("_"):
                yield str(arg.value), call.lineno


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
        return [TemplateProblem(exc.lineno or 1, exc.message or gettext("syntax error"), field)]

    problems: list[TemplateProblem] = []
    for unsafe, at in _unsafe_attributes(ast):
        problem = gettext("access to %(name)s is not allowed") % {"name": repr(unsafe)}
        problems.append(TemplateProblem(at, problem, field))

    try:
        undeclared = meta.find_undeclared_variables(ast)
    except TemplateSyntaxError as exc:  # e.g. an unknown filter, found by the code generator
        problems.append(
            TemplateProblem(exc.lineno or 1, exc.message or gettext("invalid template"), field)
        )
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
            problem = gettext("unknown variable %(name)s") % {"name": repr(label)}
            problems.append(TemplateProblem(line, problem, field))

    return sorted(problems, key=lambda p: p.line)


def compile_template(source: str, *, html: bool) -> Any:
    """A compiled template; call `check_template` first for friendly errors."""
    template = environment(html).from_string(source)
    # Quoted in errors ("line 3: {{ f(22) }}"); jinja's Template takes extra attributes.
    template.postroom_lines = source.splitlines()  # type: ignore[attr-defined]
    return template


def uses_variable(source: str, name: str, *, html: bool = True) -> bool:
    """True when `source` reads `name`, so costly values are computed only if used."""
    return name in meta.find_undeclared_variables(environment(html).parse(source))


def _line_of(template: Any, traceback: Any) -> int | None:
    """The template line of the innermost frame of the template's own code."""
    line = None
    while traceback is not None:
        if traceback.tb_frame.f_code.co_filename == "<template>":
            line = template.get_corresponding_lineno(traceback.tb_lineno)
        traceback = traceback.tb_next
    return line


def _quoted(template: Any, line: int | None) -> str:
    lines = getattr(template, "postroom_lines", [])
    if not line or line > len(lines):
        return ""
    text = lines[line - 1].strip()
    return f"{text[:77]}..." if len(text) > 80 else text


def _over_budget(exc: OverBudget, limits: Budget) -> str:
    if exc.kind == "time":
        return gettext("the template took longer than %(limit)s to render") % {
            "limit": limits.time_text
        }
    if exc.kind == "number":
        return gettext(
            "the template computes a number too large (an exponent above 100 or 4096 bits)"
        )
    return gettext("the template's output is too large: larger than %(limit)s") % {
        "limit": limits.size_text
    }


def render(
    template: Any, context: Mapping[str, Any], limits: Budget = DEFAULT_BUDGET, part: str = ""
) -> str:
    """Render within `limits`, every failure turned into RenderError, so a send can record it.

    The output is streamed and counted rather than joined and then measured:
    a loop that prints a big value a thousand times is stopped at the budget,
    before the whole of it exists.
    """
    return "".join(render_pieces(template, context, limits, part))


def render_pieces(
    template: Any, context: Mapping[str, Any], limits: Budget = DEFAULT_BUDGET, part: str = ""
) -> list[str]:
    """`render`, as the pieces the template printed: one per output and constant run."""
    budget.start(limits)
    try:
        pieces: list[str] = []
        append = pieces.append
        size, cap = 0, limits.max_chars
        for piece in template.root_render_func(template.new_context(context)):
            size += len(piece)
            if size > cap:
                raise OverBudget("size")
            append(piece)
        return pieces
    except OverBudget as exc:
        line = _line_of(template, exc.__traceback__)
        raise TemplateBudgetError(
            _over_budget(exc, limits), line=line, part=part, quote=_quoted(template, line)
        ) from None
    except SecurityError as exc:
        line = _line_of(template, exc.__traceback__)
        raise RenderError(
            gettext("refused by the template sandbox: %(error)s") % {"error": exc},
            line=line,
            part=part,
        ) from None
    except RecursionError:
        line = _line_of(template, sys.exc_info()[2])
        raise RenderError(
            gettext("the template calls itself too deeply"), line=line, part=part
        ) from None
    except Exception as exc:  # a user template may fail in any way; report it, don't crash
        line = _line_of(template, exc.__traceback__)
        raise RenderError(
            gettext("template failed: %(kind)s: %(error)s")
            % {"kind": type(exc).__name__, "error": exc},
            line=line,
            part=part,
        ) from None
    finally:
        budget.stop()


__all__ = [
    "VARIABLES",
    "Budget",
    "CampaignEnvironment",
    "RenderError",
    "TemplateBudgetError",
    "TemplateProblem",
    "check_template",
    "compile_template",
    "render",
    "render_pieces",
    "uses_variable",
]
