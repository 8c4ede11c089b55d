"""Every page works on a phone and for everyone: axe-core (WCAG 2.x A/AA and its best
practices) over every page of the walk in tests/web/pages.py, at 375 and 1280 px, in a
light and a dark colour scheme, finds nothing; at 375 px no page is wider than the screen;
every control shows where the keyboard is.

axe-core is vendored in tests/browser/vendor/axe-core (version and licence there), so
nothing is downloaded at test time. The sandboxed previews of an author's email (iframes
without scripts) are the author's content, not ours, and are left out (`iframes: false`).
"""

from pathlib import Path

import pytest
from django.test import Client
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS
from tests.browser.test_shell import WIDER_THAN_SCREEN
from tests.web.pages import PUBLIC, page_urls, world

pytestmark = pytest.mark.slow  # about a minute for each width and scheme

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
RULES = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa", "best-practice"]
RUN_AXE = """async (tags) => {
  // A page whose axe run never settles (seen on the archive entry) is a finding, not a hang.
  const stuck = new Promise(ok => setTimeout(() => ok({violations: [{id: 'axe-timeout',
    impact: 'unknown', help: 'axe.run did not finish in 15 s', nodes: []}]}), 15000));
  const result = await Promise.race([stuck, axe.run(document, {runOnly: {type: 'tag',
    values: tags}, iframes: false, resultTypes: ['violations']})]);
  return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ') + ' — '
      + (n.failureSummary || '').replace(/\\s+/g, ' ').slice(0, 160))}));
}"""
# A few pages to look at after the walk (test-artifacts/a11y-<page>-<width>-<scheme>.png).
PICTURED = {"dashboard", "campaigns", "campaign_detail", "subscribers", "public_view"}
SIZES = {375: 812, 1280: 800}


def readable_pages(owner) -> list[tuple[str, str]]:
    """(route name, path) of every page of the walk that answers with HTML: the walk also
    meets POST-only actions (405), which chromium cannot open."""
    admin, anonymous = Client(), Client()
    admin.force_login(owner)
    found = []
    for name, paths in sorted(page_urls(world()).items()):
        for path in paths:
            response = (anonymous if name in PUBLIC else admin).get(path)
            if response.status_code == 200 and "html" in response.get("Content-Type", ""):
                found.append((name, path))
    return found


def axe_violations(page) -> list[dict]:
    return page.evaluate(RUN_AXE, RULES)


@pytest.mark.skip(
    reason="unfinished: the walk hangs after /archive/<list>/<entry>/ (cause not found yet)"
)
@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", list(SIZES))
def test_every_page_passes_axe_and_fits_the_screen(make_page, owner, width, scheme):
    pages = readable_pages(owner)
    assert len(pages) >= 40  # the walk really reads the pages
    phone = width < 600
    admin = make_page(width=width, height=SIZES[width], user=owner, mobile=phone)
    public = make_page(width=width, height=SIZES[width], mobile=phone)
    for page in (admin, public):
        page.emulate_media(color_scheme=scheme)
        # An init script, not a <script> tag: the pages' CSP (script-src 'self') refuses those.
        page.add_init_script(path=str(AXE))
    problems: list[str] = []
    pictured = set()
    for name, path in pages:
        page = public if name in PUBLIC else admin
        response = page.goto(path)
        assert response is not None and response.status == 200, path
        for v in axe_violations(page):
            problems.append(f"{path} [{v['impact']}] {v['id']}: {v['help']}")
            problems.extend(f"    {node}" for node in v["nodes"])
        wide = page.evaluate("document.documentElement.scrollWidth")
        if phone and wide > width:
            problems.append(f"{path} is {wide} px wide: {page.evaluate(WIDER_THAN_SCREEN)}")
        if name in PICTURED and name not in pictured:
            pictured.add(name)
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(
                path=str(ARTIFACTS / f"a11y-{name}-{width}-{scheme}.png"), full_page=True
            )
    assert not problems, f"{len(problems)} lines:\n" + "\n".join(problems)


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
