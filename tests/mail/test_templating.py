"""The template sandbox: escapes fail, problems come with their line, missing values are empty."""

import pytest

from postroom.mail.errors import RenderError
from postroom.mail.templating import (
    TemplateProblem,
    check_template,
    compile_template,
    render,
    uses_variable,
)

CONTEXT = {
    "subscriber": {
        "email": "ann@example.org",
        "name": "Ann Lee",
        "first_name": "Ann",
        "last_name": "Lee",
        "attributes": {"city": "Lyon", "items": "three"},
    },
    "list": {"name": "News"},
    "campaign": {"name": "Weekly", "subject": "Hello"},
    "unsubscribe_url": "https://x.test/u/t/",
    "preferences_url": "https://x.test/p/t/",
    "view_url": "https://x.test/v/t/",
}


def html(source: str, context: dict | None = None) -> str:
    return render(compile_template(source, html=True), CONTEXT if context is None else context)


ESCAPES = [
    "{{ ().__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os }}",
    "{{ self._TemplateReference__context }}",
    "{{ lipsum.__globals__['os'] }}",
    "{{ subscriber.attributes.__class__ }}",
    "{{ ''.__class__.__base__ }}",
    "{{ subscriber.attributes._private }}",
    "{{ range.__self__ }}",
    "{{ (subscriber.email|attr('__class__')) }}",
]


@pytest.mark.parametrize("source", ESCAPES)
def test_it_refuses_sandbox_escapes_at_check_time(source):
    problems = check_template(source)
    assert problems, source
    assert all(p.line == 1 for p in problems)


@pytest.mark.parametrize("source", ESCAPES)
def test_sandbox_escapes_never_render_internals(source):
    # Either a clean RenderError, or nothing at all: never a class, a module or globals.
    try:
        output = html(source)
    except RenderError:
        return
    assert output == ""


def test_it_refuses_config_and_settings():
    problems = check_template("{{ config }}\n{{ settings.SECRET_KEY }}")
    assert [(p.line, p.message) for p in problems] == [
        (1, "unknown variable 'config'"),
        (2, "unknown variable 'settings'"),
    ]
    assert html("{{ config }}{{ settings.SECRET_KEY }}") == ""


def test_a_huge_range_fails_cleanly():
    with pytest.raises(RenderError, match="range"):
        html("{% for i in range(10**9) %}x{% endfor %}")


def test_huge_string_repetition_fails_cleanly():
    with pytest.raises(RenderError, match="too large"):
        html("{{ 'x' * 1000000000 }}")
    with pytest.raises(RenderError, match="exponent"):
        html("{{ 2 ** 100000000 }}")


def test_filters_that_build_huge_strings_are_unavailable():
    problems = check_template("ok\n{{ subscriber.name|center(1000000000) }}")
    assert problems == [TemplateProblem(2, "No filter named 'center'.")]


def test_it_reports_a_syntax_error_with_its_line():
    problems = check_template("Hello\n\n{{ subscriber.name }\nbye", field="body")
    assert len(problems) == 1
    assert problems[0].line == 3
    assert problems[0].field == "body"
    assert str(problems[0]).startswith("body, line 3: ")


def test_an_unclosed_block_is_reported_at_its_opening_line():
    problems = check_template("Hello\n\n{% if subscriber.name %}\nno end")
    assert [p.line for p in problems] == [3]
    assert "endif" in problems[0].message


def test_it_reports_unknown_variables_with_their_lines():
    source = "Hi {{ subscriber.first_name }}\n{{ subscriber.nickname }}\n\n{{ coupon }}"
    assert check_template(source) == [
        TemplateProblem(2, "unknown variable 'subscriber.nickname'"),
        TemplateProblem(4, "unknown variable 'coupon'"),
    ]


def test_it_accepts_every_documented_variable():
    source = """{{ subscriber.email }} {{ subscriber.name }} {{ subscriber.first_name }}
{{ subscriber.last_name }} {{ subscriber.attributes.city }} {{ subscriber.attributes['x y'] }}
{{ list.name }} {{ campaign.name }} {{ campaign.subject }}
{{ unsubscribe_url }} {{ preferences_url }} {{ view_url }}
{% for i in range(3) %}{{ loop.index }}{{ i }}{% endfor %}{% set greeting = 'hi' %}{{ greeting }}
{{ subscriber.first_name | default("friend") | title }}"""
    assert check_template(source) == []


def test_local_variables_are_not_unknown():
    source = "{% for city in subscriber.attributes.cities %}{{ city }}{% endfor %}"
    assert check_template(source) == []


def test_it_escapes_subscriber_values_in_html():
    context = {"subscriber": {"name": '<script>alert("x")</script> & co'}}
    assert html("<p>{{ subscriber.name }}</p>", context) == (
        "<p>&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; co</p>"
    )


def test_safe_is_not_available_to_unescape_subscriber_data():
    assert check_template("{{ subscriber.name|safe }}") == [
        TemplateProblem(1, "No filter named 'safe'.")
    ]


def test_text_templates_do_not_escape():
    template = compile_template("{{ subscriber.name }}", html=False)
    assert render(template, {"subscriber": {"name": "A & <B>"}}) == "A & <B>"


def test_missing_values_render_as_empty_strings():
    context = {"subscriber": {"name": None, "attributes": {}}}
    source = "[{{ subscriber.name }}|{{ subscriber.attributes.city.zip }}|{{ list.name }}]"
    assert html(source, context) == "[||]"


def test_default_applies_to_missing_none_and_empty_values():
    source = '{{ subscriber.first_name | default("friend") }}'
    assert html(source, {"subscriber": {}}) == "friend"
    assert html(source, {"subscriber": {"first_name": None}}) == "friend"
    assert html(source, {"subscriber": {"first_name": "  "}}) == "friend"
    assert html(source, {"subscriber": {"first_name": "Zoë"}}) == "Zoë"


def test_attributes_win_over_dict_methods():
    assert html("{{ subscriber.attributes.items }}") == "three"


def test_templates_cannot_change_their_data():
    attributes = {"city": "Lyon"}
    with pytest.raises(RenderError):
        html("{{ subscriber.attributes.clear() }}", {"subscriber": {"attributes": attributes}})
    assert attributes == {"city": "Lyon"}


def test_uses_variable_sees_through_filters():
    assert uses_variable("<a href='{{ view_url|e }}'>", "view_url")
    assert not uses_variable("{{ unsubscribe_url }}", "view_url")


def test_underscores_in_filter_arguments_are_fine():
    assert check_template('{{ subscriber.name|replace("_", " ") }}') == []
