"""A transactional template, or a body given in the request, rendered for one recipient.

Rendering happens when the request is accepted (a template that fails is a 400
with its line, and nothing is queued), under the same sandbox and budget as
campaigns. The slow, per-source steps — Markdown, the layout, CSS inlining, the
derived text part, Jinja compilation — are cached per source, so a shop sending
the same receipt template a thousand times pays for them once.
"""

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.utils.translation import gettext

from postroom.campaigns.spec import template_budget
from postroom.errors import InvalidInput
from postroom.mail import content
from postroom.mail.errors import RenderError, TemplateError
from postroom.mail.templating import check_template, compile_template, render

# What a transactional template may read: the request's `data` (any keys), the
# recipient, and the subscriber with that address when there is one. A layout's
# campaign-only variables (unsubscribe and view links) read as empty.
PERSON = {"email", "name", "first_name", "last_name", "attributes"}
VARIABLES: dict[str, set[str] | None] = {
    "data": None,
    "to": {"email", "name"},
    "subscriber": PERSON,
    "content": set(),
    "preheader": set(),
    "list": {"name"},
    "campaign": {"name", "subject"},
    "unsubscribe_url": set(),
    "preferences_url": set(),
    "view_url": set(),
}
FORMATS = ("markdown", "html", "plain")


@dataclass(frozen=True)
class Compiled:
    subject: Any
    html: Any | None  # None: a plain-text message
    text: Any


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str
    text: str


@lru_cache(maxsize=256)
def compiled(subject: str, body: str, body_format: str, layout_html: str | None) -> Compiled:
    """Check and compile once per source; TemplateError lists every problem with its line."""
    if body_format not in FORMATS:
        raise InvalidInput(
            gettext("unknown format %(body_format)s: use markdown, html or plain")
            % {"body_format": repr(body_format)}
        )
    problems = check_template(subject, VARIABLES, html=False, field="subject")
    problems += check_template(body, VARIABLES, html=body_format != "plain", field="body")
    if layout_html:
        problems += check_template(layout_html, VARIABLES, field="layout")
    if problems:
        raise TemplateError(problems)
    if body_format == "plain" and not layout_html:
        return Compiled(
            compile_template(subject, html=False), None, compile_template(body, html=False)
        )
    body_html = content.body_to_html(body, body_format)
    html_source = (
        content.inline_css(content.wrap_in_layout(body_html, layout_html))
        if layout_html
        else body_html
    )
    text_source = body if body_format == "plain" else content.html_to_text(body_html)
    return Compiled(
        compile_template(subject, html=False),
        compile_template(html_source, html=True),
        compile_template(text_source, html=False),
    )


def context(to_email: str, to_name: str, data: dict, person: dict | None) -> dict[str, Any]:
    subscriber = person or {"email": to_email, "name": to_name, "attributes": {}}
    first, _, last = (subscriber.get("name") or "").partition(" ")
    attributes = subscriber.get("attributes") or {}
    return {
        "data": data,
        "to": {"email": to_email, "name": to_name},
        "subscriber": {
            "email": subscriber["email"],
            "name": subscriber.get("name") or "",
            "first_name": attributes.get("first_name") or first,
            "last_name": attributes.get("last_name") or last,
            "attributes": attributes,
        },
        "list": {"name": ""},
        "campaign": {"name": "", "subject": ""},
        "unsubscribe_url": "",
        "preferences_url": "",
        "view_url": "",
    }


def render_for(template: Compiled, values: dict[str, Any]) -> Rendered:
    """The three parts for one recipient; InvalidInput with the line if rendering fails."""
    budget = template_budget()
    try:
        subject = " ".join(render(template.subject, values, budget, "subject").split())
        html = render(template.html, values, budget, "HTML part") if template.html else ""
        text = render(template.text, values, budget, "text part")
    except RenderError as exc:
        raise TemplateError.from_render_error(exc) from None
    if not subject:
        raise InvalidInput(gettext("the subject is empty once rendered"))
    return Rendered(subject, html, text)
