"""The HTML allow-list: what could run in a reader's mail client goes, template tags stay."""

import pytest

from postroom.mail.errors import TemplateError
from postroom.mail.sanitize import clean_html
from postroom.mail.templating import check_template

XSS = [
    ("<script>alert(1)</script><p>ok</p>", "<p>ok</p>"),
    ('<img src="x.png" onerror="alert(1)">', '<img src="x.png">'),
    ('<a href="javascript:alert(1)">x</a>', "<a>x</a>"),
    ('<a href="JaVaScRiPt&colon;alert(1)">x</a>', "<a>x</a>"),
    ('<a href="java\tscript:alert(1)">x</a>', "<a>x</a>"),
    ('<a href="data:text/html;base64,PHNjcmlwdD4=">x</a>', "<a>x</a>"),
    ('<img src="vbscript:msgbox(1)">', "<img>"),
    ("<svg><script>alert(1)</script></svg>", ""),
    ("<svg onload=alert(1)>", ""),
    ('<iframe src="https://evil.test/"></iframe>', ""),
    ('<form action="https://evil.test/"><input name="p"></form>', ""),
    ("<style>body{background:url(https://evil.test/)}</style>", ""),
    ('<div onclick="alert(1)" onmouseover="x()">t</div>', "<div>t</div>"),
    ('<p style="color:red;background:url(https://evil.test/)">t</p>', '<p style="color:red">t</p>'),
    ('<p style="width:expression(alert(1));color:red">t</p>', '<p style="color:red">t</p>'),
    ('<p style="wi\\64th: expr\\65ssion(alert(1))">t</p>', "<p>t</p>"),
    ('<meta http-equiv="refresh" content="0;url=https://evil.test/">', ""),
    ('<base href="https://evil.test/">', ""),
    ("<!--[if mso]><script>alert(1)</script><![endif]--><p>t</p>", "<p>t</p>"),
    ("<math><mi xlink:href=\"javascript:alert(1)\">x</mi></math>", ""),
    ('<object data="x.swf"></object><embed src="x.swf">', ""),
]  # fmt: skip


@pytest.mark.parametrize("source,expected", XSS)
def test_what_could_run_is_removed(source, expected):
    assert clean_html(source) == expected


def test_email_markup_stays_as_written():
    source = (
        '<h2>News</h2><p>Some <b>bold</b>, <i>italic</i> and <a href="https://x.test/?a=1&amp;b=2"'
        ' target="_blank">a link</a>.</p><ul><li>one</li></ul>'
        '<img src="https://x.test/a.png" alt="A" width="300" style="max-width:100%">'
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0">'
        '<tbody><tr><td valign="top" width="50%" style="padding:0 8px">left</td>'
        '<td align="center" bgcolor="#2563eb" style="border-radius:6px">'
        '<a href="mailto:ann@example.com" style="color:#ffffff;display:inline-block">Write</a>'
        "</td></tr></tbody></table>"
    )
    assert clean_html(source) == source


def test_template_tags_are_kept_in_text_attributes_and_between_rows():
    source = (
        "<p>Dear {{ subscriber.name }},</p>"
        '<p><a href="{{ view_url }}">view</a> <a href="https://x.test/?e={{ subscriber.email'
        ' | urlencode }}">me</a></p>'
        "{% if subscriber.attributes.vip %}<p>VIP</p>{% endif %}"
        "<table><tbody>{% for item in ['a', 'b'] %}<tr><td>{{ item }}</td></tr>{% endfor %}"
        "</tbody></table>"
        '<p class="{% if list.name %}named{% endif %}">{# a note #}x &lt; {{ 1 < 2 }}</p>'
    )
    cleaned = clean_html(source)
    assert cleaned == source
    assert check_template(cleaned, html=True, field="body") == []


def test_braces_written_as_references_stay_text_and_never_become_a_tag():
    source = "<p>&#123;&#123; subscriber.email &#125;&#125; &#x7b;% if 1 %&#x7d; {{ ok }}</p>"
    cleaned = clean_html(source)
    assert (
        cleaned == "<p>&#123;&#123; subscriber.email &#125;&#125; &#123;% if 1 %&#125; {{ ok }}</p>"
    )


def test_a_paragraph_of_one_tag_keeps_its_paragraph():
    assert clean_html("<p>{{ subscriber.first_name }}</p>") == "<p>{{ subscriber.first_name }}</p>"


def test_a_tag_where_no_html_can_keep_it_is_refused_not_dropped():
    with pytest.raises(TemplateError, match="was lost"):
        clean_html('<p {{ "onclick" }}="x">t</p>')


def test_cleaning_twice_changes_nothing_more():
    once = clean_html('<p onclick="x">a {{ b }}<script>c</script></p><div><span>d')
    assert clean_html(once) == once
