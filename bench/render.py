"""How fast is building the full MIME message of a personalised 10 KB HTML campaign?

    .venv/bin/python bench/render.py [N] [--tracking]

Prints messages/s on one core (target: at least 5,000) for the whole
per-recipient path — render subject, HTML and text, sign three links, encode
headers and bodies, assemble bytes — then a cProfile of the same loop. Figures
on a shared 2-core machine are noisy: run it twice. With --tracking, open and
click tracking are on (a pixel, and every link signed per recipient).
"""

import cProfile
import io
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from postroom.mail.compose import CampaignSpec, Recipient, compile_campaign
from postroom.mail.links import LinkSigner

SECTION = """
## {title}

Hello {{{{ subscriber.first_name | default("friend") }}}}, this week in *{title}*: we looked
at what changed, what did not, and what you can do about it. Read the
[full story](https://example.com/stories/{slug}?utm_source=newsletter) or
[watch the talk](https://example.com/talks/{slug}).

- A first point about {title}, with **bold** words and a [link](https://example.com/{slug}/1)
- A second point, since you live in {{{{ subscriber.attributes.city | default("your town") }}}}
- A third point: café, naïve, Zürich — a little non-ASCII as real newsletters have

> A quote from someone who knows {title} well, long enough to wrap in most clients.
"""


def make_body(size: int = 10_000) -> str:
    parts = []
    i = 0
    while sum(map(len, parts)) < size:
        title = f"Topic number {i}"
        parts.append(SECTION.format(title=title, slug=f"topic-{i}"))
        i += 1
    return "# Weekly news for {{ subscriber.name }}\n" + "".join(parts)


def main() -> None:
    args = [arg for arg in sys.argv[1:] if not arg.startswith("--")]
    count = int(args[0]) if args else 20_000
    tracking = "--tracking" in sys.argv
    spec = CampaignSpec(
        campaign_id=42,
        name="Weekly",
        subject="{{ subscriber.first_name | default('Friend') }}, your weekly news",
        from_email="news@example.com",
        from_name="Example News",
        reply_to="editor@example.com",
        body=make_body(),
        body_format="markdown",
        preheader="The week in ten topics",
        list_name="Weekly news",
        list_id="weekly.example.com",
        track_opens=tracking,
        track_clicks=tracking,
    )
    links = LinkSigner("bench-secret", "https://news.example.com")
    started = time.perf_counter()
    compiled = compile_campaign(spec, links)
    compile_ms = (time.perf_counter() - started) * 1000
    recipients = [
        Recipient(i, f"user{i}@example.org", f"Ann{i} Example", {"city": f"Town {i % 100}"})
        for i in range(count)
    ]
    sample = compiled.build(recipients[0])
    _, html, _ = compiled.render_preview(recipients[0])
    print(f"compile once: {compile_ms:.1f} ms; rendered HTML part: {len(html) / 1000:.1f} KB;")
    print(f"message size: {len(sample.data) / 1000:.1f} KB")
    if tracking:
        print(f"tracking on: a pixel and {len(compiled.tracking.urls)} tracked links")

    build = compiled.build
    started, cpu_started = time.perf_counter(), time.process_time()
    total = 0
    for recipient in recipients:
        total += len(build(recipient).data)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    print(
        f"built {count} messages in {elapsed:.2f} s: {count / elapsed:,.0f} messages/s, "
        f"{elapsed / count * 1e6:.0f} µs each, {total / elapsed / 1e6:.0f} MB/s (one core)"
    )
    # On a shared machine the wall clock includes waiting for a core; CPU time does not.
    print(f"CPU time: {cpu:.2f} s, {count / cpu:,.0f} messages per CPU-second")

    profiler = cProfile.Profile()
    profiler.enable()
    for recipient in recipients[:5000]:
        build(recipient)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(12)
    print("profile (5,000 messages, by own time; cProfile adds overhead):")
    print("\n".join(line for line in out.getvalue().splitlines()[4:] if line.strip()))


if __name__ == "__main__":
    main()
