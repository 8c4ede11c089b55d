"""Every control shows where the keyboard is, and a skip link comes first.

(The axe-core walk over every page at 375 and 1280 px, light and dark, is on the branch
a11y: it does not finish yet.)
"""

from playwright.sync_api import expect

from tests.web.pages import world


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
