"""HTML bodies cut down to what an email may carry: no scripts, no event handlers, no
`javascript:` links; the Jinja tags (`{{ subscriber.name }}`, `{% if … %}`) kept as written.

Whatever the visual editor, an HTML textarea, the API or the CLI hands in as an HTML
body goes through `clean_html` once, when the campaign is stored, so the template
sandbox only ever compiles markup from this allow-list, and only the template tags
that were written as tags (a `&#123;&#123;` stays text). nh3 (Rust's ammonia, an
html5ever parser) does the cutting; the tags are swapped for inert placeholders while
it reads (mail.content._Protected), and statements become comments so that a
`{% for %}` between table rows stays between them.
"""

import re

import nh3

from postroom.mail.content import protect_template_tags

_TEXT = {"a", "abbr", "b", "br", "cite", "code", "del", "em", "font", "i", "ins", "kbd", "mark",
         "q", "s", "small", "span", "strike", "strong", "sub", "sup", "u", "wbr"}  # fmt: skip
_BLOCKS = {"address", "blockquote", "center", "dd", "div", "dl", "dt", "figcaption", "figure",
           "h1", "h2", "h3", "h4", "h5", "h6", "hr", "li", "ol", "p", "pre", "ul"}  # fmt: skip
_TABLES = {"caption", "col", "colgroup", "table", "tbody", "td", "tfoot", "th", "thead", "tr"}
TAGS = _TEXT | _BLOCKS | _TABLES | {"img"}

# Layout attributes the mail clients that ignore CSS (Outlook's Word engine) still read.
_PRESENTATION = {"align", "valign", "width", "height", "bgcolor", "border", "cellpadding",
                 "cellspacing", "colspan", "rowspan", "color", "face", "size"}  # fmt: skip
ATTRIBUTES = {
    "*": {"class", "dir", "lang", "title", "style", "role", "aria-label", "aria-hidden"}
    | _PRESENTATION,
    "a": {"href", "name", "target"},
    "img": {"src", "alt"},
    "ol": {"start", "type"},
    "th": {"scope"},
}
URL_SCHEMES = {"http", "https", "mailto", "tel"}

# Inline CSS, property by property: no `background-image`/`behavior`/`expression()`
# channel to fetch or run anything; colours, type, boxes and table layout only.
STYLE_PROPERTIES = {
    "background-color", "border", "border-bottom", "border-collapse", "border-color",
    "border-left", "border-radius", "border-right", "border-spacing", "border-style",
    "border-top", "border-width", "color", "display", "font", "font-family", "font-size",
    "font-style", "font-weight", "height", "letter-spacing", "line-height", "list-style-type",
    "margin", "margin-bottom", "margin-left", "margin-right", "margin-top", "max-width",
    "min-width", "mso-hide", "padding", "padding-bottom", "padding-left", "padding-right",
    "padding-top", "table-layout", "text-align", "text-decoration", "text-transform",
    "vertical-align", "white-space", "width", "word-break",
}  # fmt: skip

# Values that fetch or run something, whatever the property: dropped with their declaration.
_ACTIVE_CSS = re.compile(r"expression|url\s*\(|javascript:|@import|behavior|\\", re.I)


def _style_filter(tag: str, attribute: str, value: str) -> str | None:
    if attribute != "style":
        return value
    kept = [d for d in value.split(";") if d.strip() and not _ACTIVE_CSS.search(d)]
    return ";".join(kept) or None


# Removed with everything inside them, not only their tags.
_DROPPED = {"script", "style", "template", "noscript", "iframe", "object", "embed", "svg",
            "math", "title", "textarea", "select"}  # fmt: skip

_cleaner = nh3.Cleaner(
    tags=TAGS,
    clean_content_tags=_DROPPED,
    attributes=ATTRIBUTES,
    url_schemes=URL_SCHEMES,
    filter_style_properties=STYLE_PROPERTIES,
    attribute_filter=_style_filter,
    link_rel=None,  # the author's links stay as written; mail clients open them outside
    strip_comments=False,  # our statement placeholders are comments; the others go below
)


def clean_html(source: str) -> str:
    """`source` with everything off the allow-list removed; TemplateError if a Jinja
    tag sat where no HTML can keep it (inside a tag's name or a removed attribute)."""
    protected = protect_template_tags(source, comments=True)
    cleaned = _cleaner.clean(protected.text)
    # Conditional comments (`<!--[if mso]>…`) would carry markup past the allow-list.
    cleaned = re.sub(rf"<!--(?!{protected.nonce}x\d+x-->).*?-->", "", cleaned, flags=re.S)
    # The parser decodes `&#123;` to `{`: text kept inert that way (feeds) must stay inert,
    # so every brace left is a reference again and only the restored tags are template.
    cleaned = cleaned.replace("{", "&#123;").replace("}", "&#125;")
    return protected.restore(cleaned, unwrap=False)
