"""Content conversion keeps Jinja tags intact and produces readable HTML and text."""

import pytest

from postroom.mail.content import (
    DEFAULT_LAYOUT,
    body_to_html,
    html_to_text,
    inline_css,
    markdown_to_html,
    plain_to_html,
    wrap_in_layout,
)
from postroom.mail.errors import TemplateError
from postroom.mail.templating import check_template, compile_template, render


def test_markdown_becomes_commonmark_html():
    assert markdown_to_html("# Title\n\nSome *text* and a [link](https://x.test/a?b=1&c=2).") == (
        "<h1>Title</h1>\n"
        '<p>Some <em>text</em> and a <a href="https://x.test/a?b=1&amp;c=2">link</a>.</p>\n'
    )


def test_markdown_shows_raw_html_as_text():
    assert markdown_to_html("<script>x</script> <b>y</b>") == (
        "<p>&lt;script&gt;x&lt;/script&gt; &lt;b&gt;y&lt;/b&gt;</p>\n"
    )


def test_markdown_keeps_jinja_tags_untouched():
    source = (
        'Hi {{ subscriber.first_name | default("friend") }} *you*\n\n'
        "{% if subscriber.attributes.vip > 1 %}VIP{% endif %} [view]({{ view_url }})"
    )
    result = markdown_to_html(source)
    assert '{{ subscriber.first_name | default("friend") }}' in result
    assert "{% if subscriber.attributes.vip > 1 %}VIP{% endif %}" in result
    assert '<a href="{{ view_url }}">view</a>' in result
    assert check_template(result) == []


def test_statement_lines_in_markdown_stay_outside_paragraphs():
    source = "{% for item in subscriber.attributes.things %}\n- {{ item }}\n{% endfor %}\n"
    result = markdown_to_html(source)
    assert "<p>{%" not in result
    rendered = render(
        compile_template(result, html=True), {"subscriber": {"attributes": {"things": ["a", "b"]}}}
    )
    assert rendered.count("<li>") == 2
    assert "<li>a</li>" in rendered and "<li>b</li>" in rendered


def test_plain_text_becomes_escaped_paragraphs_with_links():
    source = "Hi {{ subscriber.name }} <you>\nsee https://x.test/a.\n\nBye & thanks"
    assert plain_to_html(source) == (
        "<p>Hi {{ subscriber.name }} &lt;you&gt;<br>\n"
        'see <a href="https://x.test/a">https://x.test/a</a>.</p>\n'
        "<p>Bye &amp; thanks</p>"
    )


def test_an_unknown_body_format_is_refused():
    with pytest.raises(TemplateError, match="unknown body format"):
        body_to_html("x", "docx")


def test_html_to_text_is_readable_with_links_listed():
    source = """<html><head><title>T</title><style>p{color:red}</style></head><body>
    <div style="display: none">preheader</div>
    <h1>Big news</h1>
    <p>Read the <a href="https://x.test/story">full story</a>
       or <a href="https://x.test/story">again</a>, &amp; <b>more</b>.</p>
    <ul><li>one</li><li>two <a href="https://x.test/2">link</a></li></ul>
    <ol><li>first</li><li>second</li></ol>
    <p>Line<br>break <a href="#top">top</a> <a href="https://x.test/u">https://x.test/u</a></p>
    </body></html>"""
    assert html_to_text(source) == (
        "Big news\n"
        "========\n"
        "\n"
        "Read the full story [1] or again [1], & more.\n"
        "\n"
        "- one\n"
        "- two link [2]\n"
        "\n"
        "1. first\n"
        "2. second\n"
        "\n"
        "Line\n"
        "break top https://x.test/u\n"
        "\n"
        "[1] https://x.test/story\n"
        "[2] https://x.test/2\n"
    )


def test_html_to_text_keeps_template_tags():
    source = '<p>Hi {{ subscriber.name }} <a href="{{ unsubscribe_url }}">leave</a></p>'
    assert (
        html_to_text(source) == "Hi {{ subscriber.name }} leave [1]\n\n[1] {{ unsubscribe_url }}\n"
    )


def test_the_layout_receives_content_and_escaped_preheader():
    layout = "<div>{{ preheader }}</div><main>{{ content }}</main>"
    result = wrap_in_layout("<p>Body \\1 {{ x }}</p>", layout, "Tom & <Jerry> {{ list.name }}")
    assert result == (
        "<div>Tom &amp; &lt;Jerry&gt; {{ list.name }}</div><main><p>Body \\1 {{ x }}</p></main>"
    )


def test_a_layout_without_content_placeholder_is_refused():
    with pytest.raises(TemplateError, match="content"):
        wrap_in_layout("<p>x</p>", "<html><body>no slot</body></html>")


def test_css_is_inlined_and_template_tags_survive():
    source = """<html><head><style>
    p { color: red; }
    @media (max-width: 600px) { .wide { width: 100% !important; } }
    </style></head><body>
    <table>{% for row in subscriber.attributes.rows %}<tr><td class="wide">
    <p title="{{ row }}">{{ row | default("none") }} {% if row > 1 %}big{% endif %}</p>
    </td></tr>{% endfor %}</table></body></html>"""
    result = inline_css(source)
    assert '<p title="{{ row }}" style="color: red;">' in result
    assert '{{ row | default("none") }} {% if row > 1 %}big{% endif %}' in result
    assert "@media (max-width: 600px)" in result
    assert result.index("{% for row") < result.index("<tr>") < result.index("{% endfor %}")
    rendered = render(
        compile_template(result, html=True), {"subscriber": {"attributes": {"rows": [1, 2]}}}
    )
    assert rendered.count('style="color: red;"') == 2
    assert "2 big" in rendered


def test_the_default_layout_is_a_valid_template_with_unsubscribe_and_view_links():
    variables = {
        "content": set(),
        "preheader": set(),
        "campaign": {"subject"},
        "list": {"name"},
        "unsubscribe_url": set(),
        "preferences_url": set(),
        "view_url": set(),
    }
    assert check_template(DEFAULT_LAYOUT, variables) == []
    inlined = inline_css(wrap_in_layout("<p>Hello</p>", DEFAULT_LAYOUT, "Pre"))
    assert '<a href="{{ unsubscribe_url }}"' in inlined
    assert '<a href="{{ view_url }}"' in inlined
    assert "max-width: 620px" in inlined  # the mobile media query is kept
    assert 'name="viewport"' in inlined
