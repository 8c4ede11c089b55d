"""Time and size budgets for user templates, enforced while they render.

A template is code its author runs on every worker: `{{ "%50000000s" % "" }}`
allocates 50 MB in one step, a doubling macro runs for minutes without writing
a byte. So the sandbox counts while it renders, never afterwards:

- time: a deadline, checked wherever a template can spend time without
  writing output — every call (macros, methods, `loop()`), every loop
  iteration, every intercepted operator. Wall time is checked (cheap); when it
  runs out, the thread's CPU time decides, so a render that was merely
  descheduled on a busy machine is not blamed for it.
- size: every operation that multiplies a value (`*`, `%` and format widths,
  `join` separators, `replace`, padding methods, ...) checks the size of its
  result *before* building it; operations whose result is at most the sum of
  their inputs (`~`, `+`, the buffers of macros and blocks) check the sum
  before joining; the output is streamed and counted.

The state is per thread: `CompiledCampaign.build()` runs in several threads.
Nothing here knows Django; the limits come in as a `Budget`.
"""

import functools
import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from jinja2 import filters, pass_environment, pass_eval_context
from jinja2.sandbox import SandboxedEscapeFormatter, SandboxedFormatter

# A personalised 10 KB HTML part renders in ~25 µs here (bench/render.py): 100 ms
# is 4,000 times that, so no real newsletter comes near it, and a hostile
# template costs a worker at most a tenth of a second per part before its row fails.
DEFAULT_SECONDS = 0.1
# Gmail clips a message above 102 KB and most providers refuse 10-25 MB: 2 MB
# (in characters) of one part is twenty times more than anyone can read.
DEFAULT_MAX_CHARS = 2_000_000


@dataclass(frozen=True)
class Budget:
    seconds: float = DEFAULT_SECONDS
    max_chars: int = DEFAULT_MAX_CHARS

    @property
    def time_text(self) -> str:
        return f"{self.seconds * 1000:g} ms"

    @property
    def size_text(self) -> str:
        if self.max_chars >= 1_000_000:
            return f"{self.max_chars / 1_000_000:g} MB"
        return f"{self.max_chars / 1000:g} KB"


DEFAULT_BUDGET = Budget()


class OverBudget(Exception):
    """Raised inside a render; templating.render turns it into TemplateBudgetError.

    Not a TypeError/LookupError/AttributeError: Jinja catches those in places.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind  # "time" | "size" | "number"
        super().__init__(kind)


class _State(threading.local):
    budget: Budget = DEFAULT_BUDGET
    deadline: float = math.inf  # perf_counter() value; inf outside a render
    cpu_start: float = 0.0


_state = _State()


def start(budget: Budget) -> None:
    """Arm the budget for one render in this thread."""
    state = _state
    state.budget = budget
    state.cpu_start = time.thread_time()
    state.deadline = time.perf_counter() + budget.seconds


def stop() -> None:
    _state.deadline = math.inf
    _state.budget = DEFAULT_BUDGET


def check_time() -> None:
    if time.perf_counter() > _state.deadline:
        _wall_deadline_passed()


def _wall_deadline_passed() -> None:
    state = _state
    used = time.thread_time() - state.cpu_start
    left = state.budget.seconds - used
    if left > 0:  # descheduled, not busy: give it the CPU time it has left
        state.deadline = time.perf_counter() + left
        return
    raise OverBudget("time")


def max_chars() -> int:
    return _state.budget.max_chars


def limit(size: int) -> None:
    """Refuse a value of `size` characters before it is built."""
    if size > _state.budget.max_chars:
        raise OverBudget("size")


_ATOM = (int, float, bool, type(None))


def size_of(value: Any, cap: int | None = None) -> int:
    """Roughly how many characters `value` becomes as text; stops counting past `cap`."""
    if isinstance(value, str | bytes):
        return len(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value.bit_length() // 3 + 1
    if isinstance(value, _ATOM):
        return 8
    if isinstance(value, list | tuple | dict | set | frozenset):
        cap = _state.budget.max_chars if cap is None else cap
        total = 2
        items: Iterable[Any] = value.items() if isinstance(value, dict) else value
        for item in items:
            total += size_of(item, cap - total) + 2
            if total > cap:
                return total
        return total
    return 16  # an Undefined, a Markup wrapper's methods, a range: small as text


def checked(value: Any) -> Any:
    """Post-check: `value` was built from inputs within the budget; refuse it if it is not."""
    if isinstance(value, str):
        if len(value) > _state.budget.max_chars:
            raise OverBudget("size")
    elif isinstance(value, list | tuple | dict):
        limit(size_of(value))
    return value


def checked_concat(pieces: Iterable[str]) -> str:
    """`environment.concat`: the buffers of macros, blocks and `{% set %}` blocks."""
    if not isinstance(pieces, list | tuple):
        pieces = list(pieces)
    limit(sum(map(len, pieces)))
    return "".join(pieces)


def checked_join(join: Callable[[Any], str], args: tuple) -> str:
    """`a ~ b ~ …`: the inputs' sizes are added up before they are joined."""
    total = 0
    cap = _state.budget.max_chars
    for arg in args:
        total += size_of(arg, cap)
        if total > cap:
            raise OverBudget("size")
    return join(args)


class BudgetedBuffer(list):
    """Where a macro, a `{% set %}` block or a call block collects its output: counted
    as it grows, so a loop inside a macro is stopped at the budget too."""

    __slots__ = ("size",)

    def __init__(self) -> None:
        super().__init__()
        self.size = 0

    def append(self, piece: str) -> None:
        self.size += len(piece)
        if self.size > _state.budget.max_chars:
            raise OverBudget("size")
        super().append(piece)

    def extend(self, pieces: Iterable[str]) -> None:
        pieces = tuple(pieces)
        self.size += sum(map(len, pieces))
        if self.size > _state.budget.max_chars:
            raise OverBudget("size")
        super().extend(pieces)


class BudgetedIterator:
    """What a `{% for %}` loops over: the deadline is checked at every item."""

    __slots__ = ("_iterable", "_iterator")

    def __init__(self, iterable: Iterable[Any]) -> None:
        self._iterable = iterable
        self._iterator = iter(iterable)

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        check_time()
        return next(self._iterator)

    def __len__(self) -> int:  # loop.length and loop.last without a copy
        return len(self._iterable)  # type: ignore[arg-type]


# -- operators ---------------------------------------------------------------

# A printf conversion: %[(name)][flags][width][.precision][length]type
_PRINTF = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?([a-zA-Z%])")


def printf_size(fmt: str, args: Any) -> int:
    """An upper bound of `fmt % args` in characters, before it is computed."""
    total = len(fmt) + size_of(args)
    for width, precision, _ in _PRINTF.findall(fmt):
        if width == "*" or precision == "*":
            raise OverBudget("size")  # widths from the data are refused: never needed
        total += int(width or 0) + int(precision or 0)
        if total > _state.budget.max_chars:
            raise OverBudget("size")
    return total


def multiply(left: Any, right: Any) -> Any:
    for seq, times in ((left, right), (right, left)):
        if isinstance(seq, str | list | tuple | bytes) and isinstance(times, int):
            limit(size_of(seq) * times)
            return left * right
    # Squaring a big number again and again is a time bomb in one C call.
    both_ints = isinstance(left, int) and isinstance(right, int)
    if both_ints and abs(left).bit_length() + abs(right).bit_length() > 4096:
        raise OverBudget("number")
    return left * right


def power(left: Any, right: Any) -> Any:
    if isinstance(right, int | float) and abs(right) > 100:
        raise OverBudget("number")
    both_ints = isinstance(left, int) and isinstance(right, int)
    if both_ints and right > 0 and abs(left).bit_length() * right > 4096:
        raise OverBudget("number")
    return left**right


def modulo(left: Any, right: Any) -> Any:
    if isinstance(left, str):
        limit(printf_size(left, right))
    return left % right


def add(left: Any, right: Any) -> Any:
    if isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
        limit(size_of(left) + size_of(right))
    return left + right


BINOPS: dict[str, Callable[[Any, Any], Any]] = {
    "*": multiply,
    "**": power,
    "%": modulo,
    "+": add,
}


# -- methods called from templates ------------------------------------------------


def _int_arg(args: tuple, kwargs: dict, index: int, name: str) -> int:
    value = args[index] if len(args) > index else kwargs.get(name, 0)
    return value if isinstance(value, int) else 0


def method_args(obj: Any, args: tuple) -> tuple:
    """`"-".join(iterator)`: read the items first, so their size can be known."""
    if (
        args
        and getattr(obj, "__name__", "") == "join"
        and isinstance(getattr(obj, "__self__", None), str | bytes)
        and not isinstance(args[0], list | tuple)
    ):
        return (list(args[0]), *args[1:])
    return args


def method_size(obj: Any, args: tuple, kwargs: dict) -> int | None:
    """The size a bound method's result may reach, for the methods that multiply."""
    owner = getattr(obj, "__self__", None)
    name = getattr(obj, "__name__", "")
    if isinstance(owner, str | bytes):
        if name in ("ljust", "rjust", "center", "zfill"):
            return max(len(owner), _int_arg(args, kwargs, 0, "width"))
        if name == "expandtabs":
            return len(owner) * max(1, _int_arg(args, kwargs, 0, "tabsize"))
        if name == "replace" and len(args) >= 2:
            return replace_size(owner, args[0], args[1])
        if name == "join" and args and isinstance(args[0], list | tuple):
            items = args[0]
            return len(owner) * max(len(items) - 1, 0) + size_of(items)
        if name == "translate" and args and isinstance(args[0], dict):
            widest = max((size_of(v) for v in args[0].values()), default=1)
            return len(owner) * max(widest, 1)
    elif isinstance(owner, int) and name == "to_bytes":
        return _int_arg(args, kwargs, 0, "length")
    return None


def replace_size(text: Any, old: Any, new: Any) -> int:
    if not isinstance(text, str) or not isinstance(old, str) or not isinstance(new, str):
        return 0
    hits = text.count(old) if old else len(text) + 1
    return len(text) + hits * max(len(new) - len(old), 0)


# -- filters ---------------------------------------------------------------------


@pass_eval_context
def join_filter(eval_ctx: Any, value: Any, d: str = "", attribute: Any = None) -> str:
    items = value if isinstance(value, list | tuple) else list(value)
    limit(len(str(d)) * max(len(items) - 1, 0) + size_of(items))
    return checked(filters.sync_do_join(eval_ctx, items, d, attribute))


@pass_eval_context
def replace_filter(eval_ctx: Any, s: Any, old: Any, new: Any, count: Any = None) -> str:
    limit(replace_size(str(s), str(old), str(new)))
    return filters.do_replace(eval_ctx, s, old, new, count)


def format_filter(value: Any, *args: Any, **kwargs: Any) -> str:
    return modulo(str(value), kwargs or args)


@pass_environment
def sum_filter(environment: Any, iterable: Any, attribute: Any = None, start: Any = 0) -> Any:
    if not isinstance(start, int | float):  # summing lists copies them again and again
        raise OverBudget("size")
    return filters.sync_do_sum(environment, iterable, attribute, start)


@pass_eval_context
def tojson_filter(eval_ctx: Any, value: Any, indent: Any = None) -> Any:
    if indent is not None and (not isinstance(indent, int) or indent > 8):
        raise OverBudget("size")  # indentation is repeated at every line and level
    limit(size_of(value) * (1 + (indent or 0)))
    return filters.do_tojson(eval_ctx, value, indent)


REPLACED_FILTERS: dict[str, Callable[..., Any]] = {
    "join": join_filter,
    "replace": replace_filter,
    "format": format_filter,
    "sum": sum_filter,
    "tojson": tojson_filter,
}


def guarded_filter(func: Callable[..., Any]) -> Callable[..., Any]:
    """Any other filter: a container turned into text is measured first, the result after.

    `[big] * 1000` is small as a list of references; `|string`, `|upper` or
    `|e` would turn it into one huge string in a single step.
    """
    pass_arg = getattr(func, "jinja_pass_arg", None)

    @functools.wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        value = args[1] if pass_arg is not None and len(args) > 1 else (args[0] if args else None)
        if isinstance(value, list | tuple | dict):
            limit(size_of(value))
        return checked(func(*args, **kwargs))

    return guarded


# -- str.format ----------------------------------------------------------------------

_SPEC = re.compile(r"^(?:.?[<>=^])?[-+ ]?z?#?0?(\d*)[,_]?(?:\.(\d+))?")


class _Counting:
    """Adds up the widths and precisions of one `.format()` call before each field is built."""

    total = 0

    def format_field(self, value: Any, format_spec: str) -> Any:
        match = _SPEC.match(format_spec)
        width, precision = (match.group(1), match.group(2)) if match else ("", "")
        self.total += size_of(value) + int(width or 0) + int(precision or 0)
        limit(self.total)
        return super().format_field(value, format_spec)  # type: ignore[misc]


class BudgetFormatter(_Counting, SandboxedFormatter):
    pass


class BudgetEscapeFormatter(_Counting, SandboxedEscapeFormatter):
    pass
