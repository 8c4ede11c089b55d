"""No admin or public template holds human text outside translation tags.

The catalogue test sees only what is marked; this one finds what is not. From each
template it strips what no person reads as a sentence — comments, `{% %}` tags with
everything a translation tag encloses, `{{ }}` values, `<script>`/`<style>` bodies, HTML
tags, entities — but keeps the attribute values people do read (alt, title, placeholder,
aria-label, data-label, data-confirm). Any word left is English a German reader would see.
"""

import re
from pathlib import Path

import pytest
from django.conf import settings

TEMPLATES = Path(settings.BASE_DIR) / "web" / "templates"
NOT_CHECKED = {
    # The UI kit is a developer's page showing every component with sample text.
    "web/ui_kit.html",
}
# data-label heads a table cell on a phone, data-confirm is the question before an action.
READ_ATTRIBUTES = ("alt", "title", "placeholder", "aria-label", "data-label", "data-confirm")

COMMENT = re.compile(r"\{#.*?#\}|\{%\s*comment\s*%\}.*?\{%\s*endcomment\s*%\}|<!--.*?-->", re.S)
TRANSLATED = re.compile(r"\{%\s*blocktrans(?:late)?\b.*?\{%\s*endblocktrans(?:late)?\s*%\}", re.S)
CODE = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.S | re.I)
TEMPLATE_CODE = re.compile(r"\{%.*?%\}|\{\{.*?\}\}", re.S)
TAG = re.compile(r"<[a-zA-Z!/][^>]*>", re.S)
ATTRIBUTE = re.compile(r"""([\w:-]+)\s*=\s*("[^"]*"|'[^']*')""")
ENTITY = re.compile(r"&#?\w+;")
# Words alike in every language: names (the product's, Markdown's), units, and acronyms
# (HTML, DKIM); an example address in a placeholder is not a word either.
WORD = re.compile(r"[^\W\d_]*[^\W\dA-Z_][^\W\d_]*")
NOT_WORDS = {"Postroom", "Markdown", "ms", "px"}
URL = re.compile(r"\bhttps?://\S*")


def read_text(tag: str) -> str:
    """The attribute values of an HTML tag that a person reads."""
    return " ".join(
        value[1:-1] for name, value in ATTRIBUTE.findall(tag) if name.lower() in READ_ATTRIBUTES
    )


def unmarked(source: str) -> list[str]:
    """The runs of words of a template that no translation tag covers."""
    text = COMMENT.sub(" ", source)
    text = TRANSLATED.sub(" ", text)
    text = CODE.sub(" ", text)
    # Template code first (a translated title="{% translate "Close" %}" holds quotes, an
    # {% if a > b %} a bracket), then the tags, keeping what people read of them.
    text = TEMPLATE_CODE.sub("\n", text)
    text = TAG.sub(lambda m: f"\n{read_text(m.group())}\n", text)
    text = ENTITY.sub(" ", text)
    text = URL.sub(" ", text)
    runs = (" ".join(line.split()) for line in text.splitlines())
    return [run for run in runs if any(w not in NOT_WORDS for w in WORD.findall(run))]


def templates() -> list[str]:
    return sorted(str(p.relative_to(TEMPLATES)) for p in TEMPLATES.rglob("*.html"))


def test_the_check_finds_text_outside_the_tags():
    source = (
        '{% load i18n %}<h1 class="title">{% translate "Senders" %}</h1>{# a note #}'
        "<p>{% blocktranslate with n=count %}{{ n }} sent{% endblocktranslate %}</p>"
        '<img alt="A chart" src="{{ url }}">'
        '<button title="{% translate "Close" %}">&times;</button>'
        "<p>Nobody yet.</p><script>const label = 'not read';</script>"
    )

    assert unmarked(source) == ["A chart", "Nobody yet."]


def test_the_list_of_files_waiting_names_only_files_that_exist():
    assert not (NOT_CHECKED) - set(templates())


@pytest.mark.parametrize("name", templates())
def test_a_template_marks_every_text_for_translation(name):
    if name in NOT_CHECKED:
        return
    found = unmarked((TEMPLATES / name).read_text(encoding="utf-8"))

    assert not found, f"{name}: text outside translation tags: {found}"
