"""Every page works on a phone and for everyone: axe-core (WCAG 2.x A/AA and its best
practices) over every page of the walk in tests/web/pages.py, at 375 and 1280 px, in a
light and a dark colour scheme, finds nothing; at 375 px no page is wider than the screen;
every control shows where the keyboard is.

axe-core is vendored in tests/browser/vendor/axe-core (version and licence there), so
nothing is downloaded at test time. The sandboxed previews of an author's email (iframes
without scripts) are the author's content, not ours, and are left out (`iframes: false`).

A campaign shown as a web page (view in browser, an archive entry) is served with
`Content-Security-Policy: sandbox` and no `allow-scripts`: chromium then runs no task in
it, no timer fires, and `axe.run`, which awaits timers, never settled — the walk hung
there. Those pages are read in a context that bypasses CSP (their HTML and styles are
the same), and every run has a deadline, so a page that stalls is a finding, not a hang.
"""

from pathlib import Path

import pytest
from django.test import Client
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS
from tests.browser.test_shell import WIDER_THAN_SCREEN
from tests.web.pages import PUBLIC, page_urls, world

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
RULES = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa", "best-practice"]
# Started, not awaited: the result lands in window.__axe, which the test waits for with a
# deadline kept by Playwright (a deadline inside the page needs the page's timers).
START_AXE = """(tags) => { window.__axe = null;
  const short = v => ({id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ') + ' — '
      + (n.failureSummary || '').replace(/\\s+/g, ' ').slice(0, 160))});
  axe.run(document, {runOnly: {type: 'tag', values: tags}, iframes: false,
                     resultTypes: ['violations']})
    .then(r => { window.__axe = r.violations.map(short); },
          e => { window.__axe = [{id: 'axe-error', impact: 'unknown', help: String(e),
                                  nodes: []}]; });
}"""
AXE_DEADLINE_MS = 30_000
SIZES = {375: 812, 1280: 800}


def readable_pages(owner) -> list[tuple[str, str, bool]]:
    """(route name, path, sandboxed) of every page of the walk that answers with HTML (the
    walk also meets POST-only actions, 405); sandboxed: its CSP forbids every script."""
    admin, anonymous = Client(), Client()
    admin.force_login(owner)
    found = []
    for name, paths in sorted(page_urls(world()).items()):
        for path in paths:
            response = (anonymous if name in PUBLIC else admin).get(path)
            if response.status_code == 200 and "html" in response.get("Content-Type", ""):
                csp = response.get("Content-Security-Policy", "")
                sandboxed = "sandbox" in csp and "allow-scripts" not in csp
                found.append((name, path, sandboxed))
    return found


def axe_violations(page) -> list[dict]:
    page.evaluate(START_AXE, RULES)
    try:
        page.wait_for_function("window.__axe !== null", timeout=AXE_DEADLINE_MS)
    except PlaywrightError:
        return [{"id": "axe-deadline", "impact": "unknown", "nodes": [],
                 "help": f"axe.run did not finish in {AXE_DEADLINE_MS // 1000} s"}]  # fmt: skip
    return page.evaluate("window.__axe")


@pytest.mark.slow  # about a minute for each width and scheme
@pytest.mark.once  # the pages' markup and styles, the same whichever database filled them
@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", list(SIZES))
def test_every_page_passes_axe_and_fits_the_screen(make_page, owner, width, scheme):
    pages = readable_pages(owner)
    assert len(pages) >= 40  # the walk really reads the pages
    assert any(sandboxed for _, _, sandboxed in pages)  # and the campaign pages among them
    phone = width < 600
    size = {"width": width, "height": SIZES[width], "mobile": phone}
    # One page per kind of visitor, reused over the whole walk.
    admin = make_page(**size, user=owner)
    public = make_page(**size)
    campaign = make_page(**size, bypass_csp=True)
    for page in (admin, public, campaign):
        page.emulate_media(color_scheme=scheme)
        # An init script, not a <script> tag: the pages' CSP (script-src 'self') refuses those.
        page.add_init_script(path=str(AXE))
    problems: list[str] = []
    seen: dict[str, int] = {}
    ARTIFACTS.mkdir(exist_ok=True)
    for name, path, sandboxed in pages:
        page = campaign if sandboxed else public if name in PUBLIC else admin
        print(f"axe {width} {scheme} {path}", flush=True)  # the last line names a stuck page
        response = page.goto(path)
        assert response is not None and response.status == 200, path
        # Parts that htmx loads after the page (the delivery panel) are in place, and made
        # keyboard-reachable by behaviour.js, before axe looks.
        page.wait_for_load_state("networkidle")
        for v in axe_violations(page):
            problems.append(f"{path} [{v['impact']}] {v['id']}: {v['help']}")
            problems.extend(f"    {node}" for node in v["nodes"])
        wide = page.evaluate("document.documentElement.scrollWidth")
        if phone and wide > width:
            problems.append(f"{path} is {wide} px wide: {page.evaluate(WIDER_THAN_SCREEN)}")
        seen[name] = seen.get(name, 0) + 1
        shot = f"a11y-{name}-{seen[name]}-{width}-{scheme}.png"
        page.screenshot(path=str(ARTIFACTS / shot), full_page=True)
    report = ARTIFACTS / f"a11y-{width}-{scheme}.txt"
    report.write_text("".join(f"{line}\n" for line in problems))
    assert not problems, f"{len(problems)} lines (also in {report.name}):\n" + "\n".join(problems)


def test_the_keyboard_is_seen_on_every_control(make_page, owner):
    """Tab from the top: a skip link first, then every control draws an outline."""
    world()
    page = make_page(width=1280, height=800, user=owner)
    page.goto("/subscribers/")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()
    page.keyboard.press("Enter")
    unseen = []
    kinds = set()
    for _ in range(40):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            """() => { const el = document.activeElement; const s = getComputedStyle(el);
              return {tag: el.tagName.toLowerCase(), type: el.type || '',
                      name: el.name || el.textContent.trim().slice(0, 30),
                      outline: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2,
                      ring: s.boxShadow !== 'none'}; }"""
        )
        if focused["tag"] == "body":
            break
        kinds.add(focused["type"] or focused["tag"])
        if not (focused["outline"] or focused["ring"]):
            unseen.append(focused)
    assert "checkbox" in kinds  # the walk reached the row checkboxes
    assert unseen == []
