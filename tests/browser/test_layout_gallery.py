"""The layouts gallery in a real chromium: each stock layout, around a campaign with a
photo four times wider than a phone, fits the screen at 375 and 1024 px and scales the
photo to the column (screenshots test-artifacts/gallery-<layout>-<width>.png); and an
operator adds one from the Layouts page."""

import pytest
from playwright.sync_api import expect

from postroom.campaigns import gallery, layouts
from postroom.campaigns.models import Layout
from postroom.mail.compose import compile_campaign
from postroom.tracking.links import default_signer
from tests.browser.conftest import ARTIFACTS
from tests.browser.test_shell import WIDER_THAN_SCREEN
from tests.campaigns.samples import READER, data_uri, spec, wide_png

MEASURE = """() => { const img = document.querySelector('img[alt="Tomatoes on the vine"]');
  const cell = img.parentElement.getBoundingClientRect();
  return {page: document.documentElement.scrollWidth, img: img.getBoundingClientRect().width,
          ratio: img.naturalWidth ? img.getBoundingClientRect().height
                                    / img.getBoundingClientRect().width : 0,
          column: cell.width}; }"""


@pytest.mark.parametrize("width", [375, 1024])
@pytest.mark.parametrize("key", [entry.key for entry in gallery.GALLERY])
def test_a_gallery_layout_fits_the_screen_and_scales_its_images(make_page, key, width):
    compiled = compile_campaign(
        spec(gallery.stock(key).html, data_uri(wide_png())), default_signer()
    )
    _, html, _ = compiled.render_preview(READER)
    page = make_page(width=width, height=800, mobile=width < 600)
    page.set_content(html)
    found = page.evaluate(MEASURE)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"gallery-{key}-{width}.png"), full_page=True)
    assert found["page"] <= width, page.evaluate(WIDER_THAN_SCREEN)
    assert found["img"] <= found["column"] + 0.5  # the photo is no wider than its column
    assert found["img"] < 1200
    assert found["ratio"] == pytest.approx(0.25, abs=0.01)  # scaled, not squashed
    if width < 600:
        assert found["img"] >= width * 0.75  # and it still uses the phone's width


@pytest.mark.parametrize("width", [375, 1280])
def test_an_operator_adds_a_gallery_layout_and_edits_it(make_page, owner, width):
    layouts.default_layout()  # a new installation: the gallery comes with the default
    Layout.objects.filter(name="Digest").delete()
    page = make_page(width=width, height=800, user=owner, mobile=width < 600)
    page.goto("/layouts/")
    gallery_card = page.get_by_role("region", name="Gallery")
    expect(gallery_card.get_by_role("link", name="Added as “Newsletter”")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / f"gallery-page-{width}.png"), full_page=True)
    gallery_card.get_by_role("button", name="Add Digest").click()
    expect(page.get_by_role("heading", name="Layout “Digest”")).to_be_visible()
    assert Layout.objects.get(name="Digest").html == gallery.stock("digest").html
    assert page.evaluate("document.documentElement.scrollWidth") <= width
