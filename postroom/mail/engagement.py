"""Opens and clicks: a campaign's HTML instrumented once, signed per recipient.

Compiling a campaign with tracking on rewrites its HTML *template* once: each
literal http(s) address in an `<a href>` becomes `{{ tracking_click[N] }}`, and
a 1x1 image `{{ tracking_open }}` goes in before `</body>`. Per recipient only
the signatures are computed (one HMAC per link actually rendered), so building
stays a single template render.

What is never rewritten: links whose address is itself a template
(`{{ unsubscribe_url }}`, `{{ preferences_url }}`, `{{ view_url }}`, or
`https://…?e={{ subscriber.email }}`), because a redirect may only lead to an
address the campaign stores once and for all (never an open redirect);
`mailto:` and other schemes; anything in the plain-text part.

This module needs no database (the message builder and its benchmark run
without one); tracking.activity stores the URL list and records events.
"""

import html
import re
from typing import Any

from postroom.mail.content import TEMPLATE_TAG
from postroom.mail.links import PATHS, LinkSigner

CLICK_VARIABLE = "tracking_click"
OPEN_VARIABLE = "tracking_open"
MAX_URL = 2000  # longer addresses stay as they are (and are stored nowhere)

_HREF = re.compile(r"""(<a\b[^>]*?\shref\s*=\s*)(?:"([^"]*)"|'([^']*)')""", re.I)
_BODY_END = re.compile(r"</body\s*>", re.I)
_MASK = "\x00"  # stands for template text while the HTML is searched
PIXEL = (
    f'<img src="{{{{ {OPEN_VARIABLE} }}}}" width="1" height="1" alt="" '
    'style="display:block;width:1px;height:1px;border:0;margin:0;padding:0;">'
)


def trackable(url: str) -> bool:
    """An absolute http(s) address without template parts, short enough to store."""
    lowered = url[:8].lower()
    return (
        (lowered.startswith("http://") or lowered.startswith("https://"))
        and len(url.encode("utf-8")) <= MAX_URL
        and _MASK not in url
        and not any(c.isspace() for c in url)
    )


def _masked(source: str) -> str:
    """`source` with every template tag blanked out, same length: positions still match."""
    return TEMPLATE_TAG.sub(lambda m: _MASK * len(m.group()), source)


class Tracking:
    """What compiling did to one campaign's HTML, and the per-recipient values it needs.

    `urls` are the distinct tracked addresses in order of first appearance;
    `numbers[i]` is the number under which `urls[i]` is stored for the
    campaign (campaigns.links.number_links sets them; until then the
    position, which is what a campaign without a database row gets).
    """

    def __init__(self, html_source: str, *, opens: bool = False, clicks: bool = False) -> None:
        self.opens = opens
        urls: dict[str, int] = {}
        if clicks:
            html_source = _rewrite_links(html_source, urls)
        if opens:
            html_source = _add_pixel(html_source)
        self.html = html_source
        self.urls: tuple[str, ...] = tuple(urls)
        self.numbers: list[int] = list(range(len(urls)))

    @property
    def active(self) -> bool:
        return self.opens or bool(self.urls)

    def use_numbers(self, numbers: list[int]) -> None:
        if len(numbers) != len(self.urls):
            raise ValueError("one stored number per tracked URL is needed")
        self.numbers = list(numbers)

    def context(self, links: LinkSigner, campaign_id: int, subscriber_id: int) -> dict[str, Any]:
        """The template values for one recipient (nothing when tracking is off)."""
        if not self.active:
            return {}
        values: dict[str, Any] = {}
        if self.opens:
            values[OPEN_VARIABLE] = links.url("o", campaign_id, subscriber_id)
        if self.urls:
            values[CLICK_VARIABLE] = ClickUrls(links, campaign_id, subscriber_id, self.numbers)
        return values


class ClickUrls:
    """`tracking_click[i]`: a signed redirect, signed only when the template renders it.

    The same token as `links.url("r", campaign, subscriber, number)`, with the
    per-recipient part of it made once: a newsletter may have dozens of links.
    """

    __slots__ = ("links", "numbers", "payload", "url_format")

    def __init__(
        self, links: LinkSigner, campaign_id: int, subscriber_id: int, numbers: list[int]
    ) -> None:
        self.links = links
        self.numbers = numbers
        self.payload = f"r.{int(campaign_id)}.{int(subscriber_id)}."
        self.url_format = links.base_url + PATHS["r"]

    def __getitem__(self, index: int) -> str:
        payload = self.payload + str(self.numbers[index])
        return self.url_format.format(f"{payload}.{self.links.signature(payload)}")


def _rewrite_links(source: str, urls: dict[str, int]) -> str:
    masked = _masked(source)
    out: list[str] = []
    pos = 0
    for match in _HREF.finditer(masked):
        group = 2 if match.group(2) is not None else 3
        start, end = match.span(group)
        url = html.unescape(source[start:end]).strip()
        if _MASK in masked[start:end] or not trackable(url):
            continue
        number = urls.setdefault(url, len(urls))
        # The value keeps its quotes; the tag renders an autoescaped, plain-ASCII URL.
        out.append(source[pos:start])
        out.append(f"{{{{ {CLICK_VARIABLE}[{number}] }}}}")
        pos = end
    out.append(source[pos:])
    return "".join(out)


def _add_pixel(source: str) -> str:
    ends = list(_BODY_END.finditer(_masked(source)))
    if not ends:
        return source + PIXEL
    at = ends[-1].start()
    return source[:at] + PIXEL + source[at:]


_LINK_END = re.compile(r"</a\s*>", re.I)


def annotate_links(rendered: str, notes: dict[str, str]) -> str:
    """Rendered HTML with `notes[url]` (already HTML) after each link to `url`: a click map.

    The campaign's HTML rendered without tracking holds the addresses as stored,
    so each `<a href>` is matched to its tracked link by the same rule that
    numbered it (unescaped, stripped).
    """
    out: list[str] = []
    pos = 0
    for match in _HREF.finditer(rendered):
        if match.start() < pos:  # inside a link already annotated
            continue
        value = match.group(2) if match.group(2) is not None else match.group(3)
        note = notes.get(html.unescape(value).strip())
        end = _LINK_END.search(rendered, match.end())
        if note is None or end is None:
            continue
        out.append(rendered[pos : end.end()])
        out.append(note)
        pos = end.end()
    out.append(rendered[pos:])
    return "".join(out)
