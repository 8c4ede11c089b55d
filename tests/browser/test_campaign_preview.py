"""The campaign preview frames in a real chromium: the whole email shows, in the window and
in a full-page screenshot, on the campaign's page and in its editor, on a phone and a desktop.

Chromium paints a sandboxed frame of another origin only where the window showed it, so a
full-page screenshot had the frames below the fold blank (issue 18); the frames are now of
the page's origin (still without scripts) and sized to their email by behaviour.js.
"""

import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS
from tests.delivery.helpers import make_audience, make_campaign

SIZES = [{"width": 375, "height": 812}, {"width": 1280, "height": 800}]
FRAMES = ("iframe.preview-desktop", "iframe.preview-mobile")
LAST = "The last line: goodbye."
BODY = "# Spring letter\n\n" + "\n\n".join(
    f"Paragraph {n} of the spring letter, long enough to need scrolling." for n in range(30)
) + f"\n\n{LAST}"  # fmt: skip

# Where the frame's last paragraph is in the page, and whether the frame fits its email.
MEASURE = """([frame, last]) => {
  const box = frame.getBoundingClientRect();
  const doc = frame.contentDocument;
  const line = [...doc.querySelectorAll('p')].find(p => p.textContent.includes(last));
  const inner = line.getBoundingClientRect();
  const top = box.top + scrollY + frame.clientTop;
  return {top: box.top + scrollY, bottom: box.bottom + scrollY, height: box.height,
          page: document.documentElement.scrollHeight,
          fits: doc.scrollingElement.scrollHeight <= frame.clientHeight + 1,
          line: [box.left + scrollX + frame.clientLeft + inner.left, top + inner.top,
                 inner.width, inner.height]};
}"""


def ink(shot: Image.Image, left: float, top: float, width: float, height: float) -> int:
    """Dark pixels (text) in a region of a screenshot."""
    region = shot.convert("L").crop((int(left), int(top), int(left + width), int(top + height)))
    return sum(region.histogram()[:128])


def check_frames(page, name: str) -> None:
    for selector in FRAMES:
        expect(page.frame_locator(selector).get_by_text(LAST)).to_be_visible()
    page.wait_for_function(
        "sels => sels.every(s => { const f = document.querySelector(s);"
        " return f.contentDocument.scrollingElement.scrollHeight <= f.clientHeight + 1; })",
        arg=list(FRAMES),
    )
    page.evaluate("scrollTo(0, 0)")
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    shot = Image.open(path)
    for selector in FRAMES:
        found = page.evaluate(MEASURE, [page.locator(selector).element_handle(), LAST])
        assert found["fits"], f"{selector} scrolls inside: {found}"
        assert found["height"] > 800, f"{selector} is not sized to its long email: {found}"
        assert found["top"] >= 0 and found["bottom"] <= found["page"], found
        assert ink(shot, *found["line"]) > 30, f"{selector}'s last line is blank in {path.name}"


@pytest.mark.parametrize("size", SIZES, ids=["375", "1280"])
def test_the_preview_frames_show_the_whole_email_in_a_full_page_screenshot(make_page, owner, size):
    campaign = make_campaign(make_audience(2), body=BODY)
    page = make_page(**size, user=owner, mobile=size["width"] < 400)
    page.goto(f"/campaigns/{campaign.pk}/")
    check_frames(page, f"preview-detail-{size['width']}")

    page.goto(f"/campaigns/{campaign.pk}/edit/")
    check_frames(page, f"preview-editor-{size['width']}")
    # The live preview swaps in new frames while typing: they are sized again.
    page.locator("textarea[name=body]").fill(f"# Short\n\nOnly two lines.\n\n{LAST}")
    expect(page.frame_locator(FRAMES[0]).get_by_role("heading", name="Short")).to_be_visible()
    page.wait_for_function(
        "s => { const f = document.querySelector(s); return f.clientHeight < 640 &&"
        " f.contentDocument.scrollingElement.scrollHeight <= f.clientHeight + 1; }",
        arg=FRAMES[1],
    )
