"""Charts drawn on the server as SVG: no script, no library, no CDN.

One chart is an outer `<svg>` as wide as its box, with text and grid lines placed
in pixels and percentages (so labels keep their size on a phone), around an inner
`<svg>` whose viewBox is one unit per bucket and is stretched to fit; lines keep
their width with `vector-effect: non-scaling-stroke`. Up to BARS_UP_TO buckets the
figures are grouped bars, beyond that lines with distinct dash patterns, so no
series is told apart by colour alone. Every chart has a `<title>` and `<desc>` for
screen readers, a tooltip per bucket, and the page shows the same figures as a
table (web/_chart.html).
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

PLOT_HEIGHT = 160
TOP = 18  # room for the highest grid line's label
BOTTOM = 26  # room for the time axis
BARS_UP_TO = 48
MAX_TICKS = 5


@dataclass(frozen=True)
class Line:
    key: str  # a figure's name; also its CSS class (`s-<key>`)
    label: str  # as it reads after a number in the tooltips ("sent", "opens")
    values: Sequence[int]


def nice_top(highest: int) -> tuple[int, int]:
    """(top of the scale, grid step): 1, 2 or 5 times a power of ten, four steps or fewer."""
    if highest <= 0:
        return 4, 1
    raw = highest / 4
    power = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    for factor in (1, 2, 5, 10):
        step = max(1, int(factor * power))
        if step * 4 >= highest:
            return step * math.ceil(highest / step), step
    return highest, highest  # not reached: factor 10 always covers it


def tick_positions(count: int, most: int = MAX_TICKS) -> list[int]:
    """Indices of the buckets that get a label on the time axis: evenly spread and away
    from the edges, so every label can be centred under its bucket."""
    ticks = min(count, most)
    return sorted({round((k + 0.5) * count / ticks - 0.5) for k in range(ticks)})


def _fmt(n: int) -> str:
    return f"{n:,}"


def chart(
    chart_id: str,
    title: str,
    desc: str,
    labels: Sequence[str],
    long_labels: Sequence[str],
    lines: Sequence[Line],
) -> SafeString:
    """The SVG for `lines` over the buckets named by `labels` (axis) and `long_labels` (tips)."""
    count = len(labels)
    highest = max((max(line.values, default=0) for line in lines), default=0)
    top, step = nice_top(highest)
    height = TOP + PLOT_HEIGHT + BOTTOM
    parts: list[str] = [
        format_html(
            '<svg class="chart" id="{0}" role="img" aria-labelledby="{0}-title {0}-desc"'
            ' width="100%" height="{1}" xmlns="http://www.w3.org/2000/svg">'
            '<title id="{0}-title">{2}</title><desc id="{0}-desc">{3}</desc>',
            chart_id,
            height,
            title,
            desc,
        )
    ]
    parts.append('<g class="grid" aria-hidden="true">')
    for value in range(0, top + 1, step):
        y = TOP + PLOT_HEIGHT - PLOT_HEIGHT * value / top
        parts.append(
            f'<line x1="0" x2="100%" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text x="2" y="{y - 3:.1f}">{_fmt(value)}</text>'
        )
    parts.append("</g>")
    parts.append(
        f'<svg x="0" y="{TOP}" width="100%" height="{PLOT_HEIGHT}"'
        f' viewBox="0 0 {max(count, 1)} 100" preserveAspectRatio="none" aria-hidden="true">'
    )
    if count <= BARS_UP_TO:
        width = 0.8 / max(len(lines), 1)
        for n, line in enumerate(lines):
            for i, value in enumerate(line.values):
                if value:
                    h = 100 * value / top
                    x = i + 0.1 + n * width
                    parts.append(
                        f'<rect class="s-{line.key}" x="{x:.3f}" y="{100 - h:.3f}"'
                        f' width="{width:.3f}" height="{h:.3f}"/>'
                    )
    else:
        for line in lines:
            points = " ".join(
                f"{i + 0.5},{100 - 100 * v / top:.2f}" for i, v in enumerate(line.values)
            )
            parts.append(
                f'<polyline class="s-{line.key}" points="{points}" fill="none"'
                ' vector-effect="non-scaling-stroke"/>'
            )
    # One invisible strip per bucket carries its figures as a tooltip.
    for i in range(count):
        tip = f"{long_labels[i]}: " + ", ".join(
            f"{line.label} {_fmt(line.values[i])}" for line in lines
        )
        parts.append(
            f'<rect class="hit" x="{i}" y="0" width="1" height="100">'
            f"<title>{escape(tip)}</title></rect>"
        )
    parts.append("</svg>")
    parts.append('<g class="axis" aria-hidden="true">')
    for n, i in enumerate(tick_positions(count)):
        at = 100 * (i + 0.5) / count
        minor = ' class="minor"' if n % 2 else ""  # hidden on a phone (app.css)
        parts.append(
            f'<text{minor} x="{at:.2f}%" y="{height - 8}" text-anchor="middle">'
            f"{escape(labels[i])}</text>"
        )
    parts.append("</g></svg>")
    # Every value above is escaped (format_html, escape) or a number.
    return mark_safe("".join(str(p) for p in parts))
