"""Template budgets: bombs stop within their time and size while they render, never after."""

import time
import tracemalloc

import pytest

from postroom.mail.budget import DEFAULT_BUDGET, Budget
from postroom.mail.errors import RenderError, TemplateBudgetError
from postroom.mail.templating import compile_template, render
from tests.mail.test_templating import CONTEXT

DOUBLING_MACRO = (
    "{% macro f(n) %}{% if n %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}{% endmacro %}{{ f(22) }}"
)
TIME_BOMBS = [
    DOUBLING_MACRO,
    "{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(1000) %}"
    "{% endfor %}{% endfor %}{% endfor %}",
    "{% for c in 'x' * 90000 %}{% for d in 'x' * 90000 %}{% endfor %}{% endfor %}",
    "{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(1000) %}"
    "{{ '' }}{% endfor %}{% endfor %}{% endfor %}",
]
SIZE_BOMBS = [
    '{{ "%50000000s" % "" }}',
    "{{ range(1000)|join('a' * 100000) }}",
    "{{ '{:>50000000}'.format('x') }}",
    "{{ '%.50000000f'|format(1.5) }}",
    "{{ 'x'.ljust(50000000) }}",
    "{{ 'ab'.center(50000000) }}",
    "{{ ('a' * 100000)|replace('a', 'b' * 1000) }}",
    "{{ ('a' * 90000).replace('a', 'b' * 1000) }}",
    "{{ ('\t' * 90000).expandtabs(1000) }}",
    "{{ ('a' * 90000).translate({97: 'b' * 1000}) }}",
    "{{ (1).to_bytes(100000000, 'big') }}",
    "{% set a = 'x' * 100000 %}{{ [a] * 30 }}",
    "{% set a = 'x' * 1000000 %}{{ a ~ a ~ a }}",
    "{% set a = 'x' * 1000000 %}{{ a + a + a }}",
    "{% set a = 'x' * 100000 %}{{ [a, a, a, a, a, a, a, a, a, a, a, a, a, a, a, a, a, a, a, a, a]"
    "|string }}",
    "{% macro m() %}{% for i in range(1000) %}{{ 'x' * 100000 }}{% endfor %}{% endmacro %}"
    "{{ m() }}",
    "{% set s %}{% for i in range(1000) %}{{ 'x' * 100000 }}{% endfor %}{% endset %}{{ s }}",
    "{% for i in range(1000) %}{{ 'x' * 100000 }}{% endfor %}",
    "{{ [[1] * 1000] * 1000|sum(start=[]) }}",
]


def _render(source: str, limits: Budget = DEFAULT_BUDGET) -> str:
    return render(compile_template(source, html=True), CONTEXT, limits, "HTML part")


@pytest.mark.parametrize("source", TIME_BOMBS)
def test_a_template_that_runs_too_long_is_stopped_at_its_deadline(source):
    started = time.thread_time()
    with pytest.raises(TemplateBudgetError, match="took longer than 100 ms to render"):
        _render(source)
    # Stopped near the deadline (CPU time: a busy machine only stretches the wall clock).
    assert time.thread_time() - started < 1.0


@pytest.mark.parametrize("source", SIZE_BOMBS)
def test_a_template_that_builds_too_much_is_stopped_before_it_allocates_it(source):
    tracemalloc.start()
    try:
        with pytest.raises(TemplateBudgetError, match="output is too large: larger than 2 MB"):
            _render(source)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # The budget is 2 MB; a step may hold a few of its inputs, never the bomb's 50-100 MB.
    assert peak < 12_000_000, f"{peak / 1e6:.1f} MB for {source}"


def test_a_big_number_is_refused_before_it_is_computed():
    with pytest.raises(TemplateBudgetError, match="number too large"):
        _render(
            "{% set x = 10 ** 100 %}{% set x = x * x %}{% set x = x * x %}"
            "{% set x = x * x %}{% set x = x * x %}{% set x = x * x %}{{ x }}"
        )


def test_the_error_names_the_part_the_line_and_quotes_it():
    source = "Hello {{ subscriber.name }}\n\n{{ 'x' * 3000000 }}\nbye"
    with pytest.raises(TemplateBudgetError) as caught:
        _render(source)
    assert caught.value.line == 3
    assert str(caught.value) == (
        "the template's output is too large: larger than 2 MB"
        " (HTML part, line 3: {{ 'x' * 3000000 }})"
    )


def test_a_deadline_inside_a_macro_reports_the_line_of_the_macro():
    source = (
        "first line\n{% macro f(n) %}\n{% if n %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}\n"
        "{% endmacro %}\n{{ f(25) }}"
    )
    with pytest.raises(TemplateBudgetError) as caught:
        _render(source)
    assert caught.value.line == 3


def test_the_limits_are_those_given():
    source = "{% for i in range(100) %}{{ 'x' * 1000 }}{% endfor %}"
    assert len(_render(source)) == 100_000
    with pytest.raises(TemplateBudgetError, match="larger than 50 KB"):
        _render(source, Budget(max_chars=50_000))
    with pytest.raises(TemplateBudgetError, match="took longer than 5 ms"):
        _render(DOUBLING_MACRO, Budget(seconds=0.005))


def test_ordinary_template_features_still_work():
    source = (
        "{% macro greet(name) %}Hi {{ name|title }}{% endmacro %}{{ greet(subscriber.name) }}|"
        "{% for w in ['a', 'b', 'c'] %}{{ loop.index }}{{ w|upper }}{% if not loop.last %},"
        "{% endif %}{% endfor %}|{{ ['x', 'y']|join('-') }}|{{ '%05.1f'|format(3.14159) }}|"
        "{{ '{:>6}'.format('r') }}|{{ 'a-b'|replace('-', '+') }}|{{ [1, 2, 3]|sum }}|"
        "{{ 'ab' ~ 'cd' }}|{{ 2 ** 10 }}|{{ 'ab' * 3 }}|{{ 7 % 3 }}|{{ 1 + 2 }}|"
        "{% set s %}block{% endset %}{{ s }}|{{ {'k': 1}|tojson }}|{{ 'x'.center(5) }}"
    )
    assert _render(source) == (
        'Hi Ann Lee|1A,2B,3C|x-y|003.1|     r|a+b|6|abcd|1024|ababab|1|3|block|{"k": 1}|  x  '
    )


def test_a_failing_template_reports_its_line_too():
    with pytest.raises(RenderError) as caught:
        _render("ok\n{{ 1 + 'a' }}")
    assert caught.value.line == 2
    assert "TypeError" in str(caught.value)
