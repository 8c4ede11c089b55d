"""A campaign's body between its formats: what is stored, and what the editor's mode
switch turns it into (Markdown → visual goes through the rendered HTML)."""

from typing import Any

from django.utils.translation import gettext

from postroom.campaigns.models import Campaign
from postroom.errors import InvalidInput
from postroom.mail.content import body_to_html, html_to_text
from postroom.mail.sanitize import clean_html

FORMATS = tuple(Campaign.Format.values)


def stored_body(body_format: str, body: Any) -> Any:
    """The body as it is kept: an HTML one (the visual editor's, an HTML textarea's, the
    API's, the CLI's, a feed's) cut down to the email allow-list (mail.sanitize)."""
    if body_format == Campaign.Format.HTML and isinstance(body, str):
        return clean_html(body)
    return body


def is_lossy(source_format: str, target_format: str) -> bool:
    """True when the switch drops formatting: HTML (visual or written) to text."""
    return source_format == Campaign.Format.HTML and target_format != Campaign.Format.HTML


def convert_body(body: str, source_format: str, target_format: str) -> str:
    """`body` written in `source_format` as a body in `target_format`. To HTML it is the
    rendered, cleaned HTML; from HTML to Markdown or plain text it is the readable text
    (links listed, formatting gone: `is_lossy`); between Markdown and plain text the
    text stays as it is. TemplateError if a Jinja tag cannot survive the conversion."""
    for name in (source_format, target_format):
        if name not in FORMATS:
            raise InvalidInput(
                gettext("unknown body format %(name)s: use markdown, html or plain")
                % {"name": repr(name)}
            )
    if source_format == target_format:
        return stored_body(target_format, body)
    if target_format == Campaign.Format.HTML:
        return clean_html(body_to_html(body, source_format))
    if source_format == Campaign.Format.HTML:
        return html_to_text(clean_html(body)).strip() + "\n"
    return body
