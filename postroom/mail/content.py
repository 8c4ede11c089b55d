"""Campaign content: Markdown and plain text to HTML, HTML to readable text, layouts, CSS.

Everything here runs once per campaign on *template source*, before Jinja
compiles it, so the per-recipient work stays a single template render. That is
why each step protects the Jinja tags (`{{ … }}`, `{% … %}`, `{# … #}`) while a
foreign parser (markdown-it, css-inline's HTML5 parser, html.parser) reads the
source, and puts them back untouched afterwards.
"""

import html
import re
import secrets
from collections.abc import Callable
from html.parser import HTMLParser

import css_inline
from markdown_it import MarkdownIt

from postroom.mail.errors import TemplateError
from postroom.mail.language import gettext
from postroom.mail.templating import TemplateProblem

TEMPLATE_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
# A line holding only statements (`{% for … %}`) must not become a <p>: it stays its own block.
_STATEMENT = r"(?:\{%.*?%\}|\{#.*?#\})"
_STATEMENT_LINE = re.compile(rf"^[ \t]*{_STATEMENT}(?:[ \t]*{_STATEMENT})*[ \t]*$", re.M)
_CONTENT_SLOT = re.compile(r"\{\{-?\s*content\s*-?\}\}")
_PREHEADER_SLOT = re.compile(r"\{\{-?\s*preheader\s*-?\}\}")

_markdown = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


def has_template_tags(source: str) -> bool:
    """True when `source` has any Jinja tag, i.e. it may differ per recipient."""
    return TEMPLATE_TAG.search(source) is not None


_RAW_TEXT = re.compile(r"<(style|script)\b[^>]*>(.*?)</\1", re.S | re.I)


def raw_text_is_ascii(source: str) -> bool:
    """True when <style>/<script> hold only ASCII: character references are safe elsewhere."""
    return all(match.group(2).isascii() for match in _RAW_TEXT.finditer(source))


class _Protected:
    """Jinja tags swapped for inert placeholders while another parser reads the text."""

    def __init__(self, source: str, *, comments: bool) -> None:
        self.nonce = "jx" + secrets.token_hex(6)
        self.tags: list[str] = []
        index: dict[str, int] = {}
        out: list[str] = []
        pos = 0
        for match in TEMPLATE_TAG.finditer(source):
            out.append(source[pos : match.start()])
            tag = match.group()
            if tag not in index:
                index[tag] = len(self.tags)
                self.tags.append(tag)
            word = f"{self.nonce}x{index[tag]}x"
            # An HTML comment survives where text would be moved by the HTML5
            # parser (statements between table rows), but not inside a tag.
            so_far = "".join(out)
            inside_tag = so_far.rfind("<") > so_far.rfind(">")
            if comments and tag.startswith("{%") and not inside_tag:
                word = f"<!--{word}-->"
            out.append(word)
            pos = match.end()
        out.append(source[pos:])
        self.text = "".join(out)

    def restore(self, text: str, *, unwrap: bool = True) -> str:
        """The text with the tags back; `unwrap`: a paragraph holding only a tag (Markdown
        made it of a statement line) becomes the bare tag."""
        if not self.tags:
            return text
        paragraph = rf"<p>{self.nonce}x(\d+)x</p>|" if unwrap else ""
        pattern = re.compile(
            rf"{paragraph}<!--{self.nonce}x(\d+)x-->|&lt;!--{self.nonce}x(\d+)x--&gt;|{self.nonce}x(\d+)x"
        )
        found: set[int] = set()

        def put_back(match: re.Match[str]) -> str:
            number = int(next(g for g in match.groups() if g is not None))
            found.add(number)
            return self.tags[number]

        result = pattern.sub(put_back, text)
        lost = [self.tags[i] for i in range(len(self.tags)) if i not in found]
        if lost:
            message = gettext("template tag %(tag)s was lost while converting the HTML") % {
                "tag": repr(lost[0])
            }
            raise TemplateError([TemplateProblem(1, message)])
        return result


def protect_template_tags(source: str, *, comments: bool) -> _Protected:
    """`source` with its Jinja tags swapped for placeholders (`.text`) and `.restore()`
    to put them back, for a parser outside this module (mail.sanitize)."""
    return _Protected(source, comments=comments)


def _statement_lines_as_blocks(source: str) -> str:
    """Put blank lines around statement-only lines so Markdown keeps them as blocks."""
    return _STATEMENT_LINE.sub(lambda m: f"\n{m.group().strip()}\n", source)


def markdown_to_html(source: str) -> str:
    """CommonMark (+ tables) to HTML. Raw HTML is shown as text: use the HTML format for it."""
    protected = _Protected(_statement_lines_as_blocks(source), comments=False)
    return protected.restore(_markdown.render(protected.text))


_URL = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]]")


def plain_to_html(source: str) -> str:
    """Plain text as simple HTML: escaped, paragraphs, line breaks and clickable links."""
    protected = _Protected(source, comments=False)
    paragraphs = re.split(r"\n[ \t]*\n", protected.text.strip().replace("\r\n", "\n"))
    blocks = []
    for paragraph in paragraphs:
        escaped = html.escape(paragraph, quote=False)
        linked = _URL.sub(lambda m: f'<a href="{m.group()}">{m.group()}</a>', escaped)
        blocks.append("<p>" + linked.replace("\n", "<br>\n") + "</p>")
    return protected.restore("\n".join(blocks))


def escape_template_text(source: str) -> str:
    """HTML-escape the literal parts of a template, leaving its Jinja tags as they are."""
    protected = _Protected(source, comments=False)
    return protected.restore(html.escape(protected.text))


def wrap_in_layout(content_html: str, layout_html: str, preheader: str = "") -> str:
    """The layout with its `{{ content }}` (and `{{ preheader }}`) filled in: one template."""
    if not _CONTENT_SLOT.search(layout_html):
        problem = TemplateProblem(
            1, gettext("the layout has no {{ content }} placeholder"), "layout"
        )
        raise TemplateError([problem])
    # Substitute with functions: a replacement string would interpret backslashes.
    result = _CONTENT_SLOT.sub(lambda m: content_html, layout_html, count=1)
    return _PREHEADER_SLOT.sub(lambda m: escape_template_text(preheader), result)


_inliner = css_inline.CSSInliner(
    keep_at_rules=True,  # @media queries make the layout mobile-friendly; they cannot be inlined
    load_remote_stylesheets=False,  # never fetch URLs named by a user-authored layout
)


def inline_css(template_html: str) -> str:
    """Move <style> rules into style="" attributes, as email clients want (once per campaign)."""
    protected = _Protected(template_html, comments=True)
    try:
        inlined = _inliner.inline(protected.text)
    except (css_inline.InlineError, ValueError) as exc:
        problem = TemplateProblem(
            1, gettext("the CSS could not be inlined: %(error)s") % {"error": exc}, "layout"
        )
        raise TemplateError([problem]) from None
    return protected.restore(inlined)


_BLOCKS = {
    "p", "div", "table", "tr", "ul", "ol", "li", "blockquote", "section", "article",
    "header", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "hr", "center",
}  # fmt: skip
_PLACEHOLDER = re.compile(r"jx[0-9a-f]{12}x\d+x")
_SKIPPED = {"head", "style", "script", "title", "template"}
_VOID = {"br", "img", "hr", "meta", "link", "input", "area", "base", "col", "source", "wbr"}


class _TextMaker(HTMLParser):
    """Collects readable text; links become `text [n]` with `[n] url` listed at the end."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.links: list[str] = []
        self.link_stack: list[str | None] = []
        self.link_starts: list[int] = []
        self.hidden = 0  # depth inside skipped/hidden elements
        self.stack: list[str] = []
        self.lists: list[list[int | None]] = []  # per open list: [counter or None]
        self.pre = 0

    def _block(self, lines: int = 2) -> None:
        self.out.append("\n" * lines)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag in _VOID:
            if self.hidden:
                return
            if tag == "br":
                self.out.append("\n")
            elif tag == "hr":
                self.out.append("\n\n----------\n\n")
            elif tag == "img" and attributes.get("alt"):
                self.out.append(attributes["alt"] or "")
            return
        style = (attributes.get("style") or "").replace(" ", "").lower()
        if self.hidden or tag in _SKIPPED or "display:none" in style or "hidden" in attributes:
            self.hidden += 1
            self.stack.append(tag)
            return
        self.stack.append(tag)
        if tag in _BLOCKS:
            self._block(1 if tag in ("li", "tr") else 2)
        if tag in ("ul", "ol"):
            self.lists.append([1 if tag == "ol" else None])
        elif tag == "li":
            counter = self.lists[-1] if self.lists else [None]
            indent = "  " * max(len(self.lists) - 1, 0)
            if counter[0] is None:
                self.out.append(f"{indent}- ")
            else:
                self.out.append(f"{indent}{counter[0]}. ")
                counter[0] += 1
        elif tag == "pre":
            self.pre += 1
        elif tag in ("td", "th"):
            self.out.append(" ")
        if tag == "a":
            href = (attributes.get("href") or "").strip()
            self.link_stack.append(href if href and not href.startswith("#") else None)
            self.link_starts.append(len(self.out))

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID or tag not in self.stack:
            return
        while self.stack:  # close anything left open inside this element
            open_tag = self.stack.pop()
            if self.hidden:
                self.hidden -= 1
            else:
                self._close(open_tag)
            if open_tag == tag:
                break

    def _close(self, tag: str) -> None:
        if tag in ("ul", "ol") and self.lists:
            self.lists.pop()
        elif tag == "pre":
            self.pre -= 1
        elif tag == "a" and self.link_stack:
            href = self.link_stack.pop()
            text = "".join(self.out[self.link_starts.pop() :]).strip()
            if href and href != text:
                if href not in self.links:
                    self.links.append(href)
                self.out.append(f" [{self.links.index(href) + 1}]")
        if tag in ("h1", "h2"):
            heading = "".join(self.out[self._heading_start() :]).strip()
            width = len(_PLACEHOLDER.sub("", heading)) + 8 * len(_PLACEHOLDER.findall(heading))
            self.out.append("\n" + ("=" if tag == "h1" else "-") * max(3, min(width, 70)))
        if tag in _BLOCKS and tag not in ("li", "tr"):  # items start their own line
            self._block()

    def _heading_start(self) -> int:
        for i in range(len(self.out) - 1, -1, -1):
            if "\n" in self.out[i]:
                return i + 1
        return 0

    def handle_data(self, data: str) -> None:
        if self.hidden:
            return
        self.out.append(data if self.pre else re.sub(r"\s+", " ", data))

    def text(self) -> str:
        body = "".join(self.out)
        lines = [line.strip() if not self.pre else line.rstrip() for line in body.split("\n")]
        body = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
        if self.links:
            body += "\n\n" + "\n".join(f"[{i}] {url}" for i, url in enumerate(self.links, 1))
        return body + "\n"


def html_to_text(source: str) -> str:
    """Readable plain text from HTML (or from an HTML template: its tags are kept)."""
    protected = _Protected(source, comments=False)
    maker = _TextMaker()
    maker.feed(protected.text)
    maker.close()
    return protected.restore(maker.text())


TEXT_FOOTER = """
--
{% if list.name %}You receive this email because you subscribed to {{ list.name }}.
{% endif %}View it in your browser: {{ view_url }}
Change your preferences: {{ preferences_url }}
Unsubscribe: {{ unsubscribe_url }}
"""


def body_to_html(body: str, body_format: str) -> str:
    """The HTML template of a body written in `body_format` (markdown, html or plain)."""
    converters: dict[str, Callable[[str], str]] = {
        "markdown": markdown_to_html,
        "html": lambda source: source,
        "plain": plain_to_html,
    }
    if body_format not in converters:
        problem = gettext("unknown body format %(format)s") % {"format": repr(body_format)}
        raise TemplateError([TemplateProblem(1, problem, "body")])
    return converters[body_format](body)


DEFAULT_LAYOUT = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="x-apple-disable-message-reformatting">
<meta name="color-scheme" content="light">
<title>{{ campaign.subject }}</title>
<style>
  body { margin: 0; padding: 0; background-color: #f3f4f6; }
  .wrapper { width: 100%; background-color: #f3f4f6; }
  .container { width: 600px; max-width: 600px; background-color: #ffffff; border-radius: 6px; }
  .content { padding: 32px 40px; font-size: 16px; line-height: 1.6; color: #1f2937;
             font-family: -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif; }
  .content h1 { font-size: 26px; line-height: 1.3; margin: 0 0 16px; color: #111827; }
  .content h2 { font-size: 21px; line-height: 1.3; margin: 24px 0 12px; color: #111827; }
  .content h3 { font-size: 18px; margin: 20px 0 8px; color: #111827; }
  .content p { margin: 0 0 16px; }
  .content a { color: #2563eb; }
  .content img { max-width: 100%; height: auto; border: 0; }
  .content blockquote { margin: 0 0 16px; padding: 4px 16px; color: #4b5563;
                        border-left: 4px solid #e5e7eb; }
  .content pre { padding: 12px; background-color: #f3f4f6; border-radius: 4px; font-size: 14px; }
  .content table { border-collapse: collapse; }
  .content td, .content th { padding: 6px 10px; border: 1px solid #e5e7eb; }
  .footer { padding: 24px 40px; font-family: Helvetica, Arial, sans-serif; font-size: 12px;
            line-height: 1.5; color: #4b5563; text-align: center; }
  .footer a { color: #4b5563; text-decoration: underline; }
  @media only screen and (max-width: 620px) {
    .container { width: 100% !important; border-radius: 0 !important; }
    .content { padding: 24px 20px !important; }
    .footer { padding: 20px !important; }
  }
</style>
</head>
<body>
<div style="display:none;max-height:0;overflow:hidden;mso-hide:all;">{{ preheader }}
&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;&#847;&zwnj;&nbsp;</div>
<table role="presentation" class="wrapper" width="100%" cellpadding="0" cellspacing="0" border="0">
<tr><td align="center" style="padding: 24px 8px;">
<table role="presentation" class="container" width="600" cellpadding="0" cellspacing="0" border="0">
<tr><td class="content">
{{ content }}
</td></tr>
</table>
<table role="presentation" width="600" cellpadding="0" cellspacing="0" border="0"
       style="max-width: 600px; width: 100%;">
<tr><td class="footer">
{% if list.name %}<p style="margin: 0 0 8px;">
You receive this email because you subscribed to {{ list.name }}.</p>{% endif %}
<p style="margin: 0;"><a href="{{ view_url }}">View in browser</a>
&middot; <a href="{{ preferences_url }}">Preferences</a>
&middot; <a href="{{ unsubscribe_url }}">Unsubscribe</a></p>
</td></tr>
</table>
</td></tr>
</table>
</body>
</html>
"""
