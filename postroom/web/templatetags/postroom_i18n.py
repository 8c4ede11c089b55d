"""Template helpers for translated sentences that name several things.

A sentence such as "You can come back to A, B" cannot be cut around a loop
and still translate: word order differs between languages. So the names are
joined first, in the language's own way ("A, B" / "A、B"), and go into the
sentence as one value.
"""

from collections.abc import Iterable

from django import template
from django.utils.html import format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import pgettext

register = template.Library()


@register.filter
def strong_names(items: Iterable[object]) -> SafeString:
    """Each item's name in <strong>, joined with the language's list separator."""
    separator = pgettext("between the names of a list", ", ")
    return format_html_join(separator, "<strong>{}</strong>", ((str(i),) for i in items))


@register.filter
def names(items: Iterable[object]) -> SafeString:
    """Each item's name, escaped, joined with the language's list separator."""
    separator = pgettext("between the names of a list", ", ")
    return format_html_join(separator, "{}", ((str(i),) for i in items))
