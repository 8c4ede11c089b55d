"""The media library in a real browser at 375 and 1280 px: upload, the grid, delete with
where it is used, and the campaign editor's picker putting an image into the body."""

import pytest
from playwright.sync_api import expect

from postroom.audience import services as audience
from postroom.campaigns import services as campaigns
from postroom.media import services
from postroom.media.models import MediaFile
from tests.browser.conftest import ARTIFACTS
from tests.media.pictures import jpeg, png

SIZES = {"phone": {"width": 375, "height": 812, "mobile": True}, "desktop": {"width": 1280}}

# The image's natural width once it has loaded or failed (0): a busy machine may
# not have fetched it yet when the tile shows.
WIDTH_ONCE_LOADED = """img => img.complete ? img.naturalWidth : new Promise(done => {
  img.addEventListener("load", () => done(img.naturalWidth));
  img.addEventListener("error", () => done(0));
})"""


def shot(page, name: str, full_page: bool = True) -> None:
    """`full_page=False` for a modal dialog: it sits in the viewport, not on the page."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)


def fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.fixture
def library(settings, live_server, media_dir):
    settings.POSTROOM_BASE_URL = live_server.url
    services.upload("leaflet.pdf", b"%PDF-1.4 spring prices", image=False)
    services.upload("logo.png", png(240, 80), image=True)


@pytest.mark.parametrize("size", SIZES, ids=list(SIZES))
def test_an_image_is_uploaded_shown_in_the_grid_and_deleted(
    make_page, owner, library, tmp_path, size
):
    photo = tmp_path / "Harbour at dawn.jpg"
    photo.write_bytes(jpeg(2400, 1600, gps=True))
    page = make_page(**SIZES[size], user=owner)
    page.goto("/media/")
    if size == "desktop":  # on a phone the navigation waits behind "Menu"
        link = page.get_by_role("link", name="Media", exact=True)
        expect(link).to_have_attribute("aria-current", "page")
    page.get_by_label("Files").set_input_files(str(photo))
    page.get_by_role("button", name="Upload").click()

    expect(page.get_by_text("Uploaded Harbour at dawn.jpg.")).to_be_visible()
    tile = page.locator(".media-tile", has_text="Harbour at dawn.jpg")
    expect(tile).to_contain_text("1200 \u00d7 800 px")
    tile.scroll_into_view_if_needed()  # the grid loads its images lazily
    loaded = tile.locator("img").evaluate(WIDTH_ONCE_LOADED)
    assert loaded == 1200  # served by Postroom at its public URL
    expect(page.locator(".media-tile", has_text="leaflet.pdf")).to_contain_text("attachment")
    assert fits_the_screen(page)
    shot(page, f"media-grid-{size}")

    tile.get_by_role("link", name="Delete Harbour at dawn.jpg").click()
    expect(page.get_by_text("No campaign or layout uses it.")).to_be_visible()
    assert fits_the_screen(page)
    shot(page, f"media-delete-{size}")
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_text("Deleted Harbour at dawn.jpg.")).to_be_visible()
    assert not MediaFile.objects.filter(name="Harbour at dawn.jpg").exists()


@pytest.mark.parametrize("size", SIZES, ids=list(SIZES))
def test_the_editor_picks_an_image_into_the_body_and_attaches_a_file(
    make_page, owner, library, size
):
    news = audience.create_list("News")
    draft = campaigns.create_campaign(
        name="Spring", subject="Spring", body="Hello.\n\n", from_email="news@example.org",
        lists=[news],
    )  # fmt: skip
    logo = MediaFile.objects.get(name="logo.png")
    page = make_page(**SIZES[size], user=owner)
    page.goto(f"/campaigns/{draft.pk}/edit/")
    page.evaluate(
        """() => { window.picked = null; document.addEventListener(
          'postroom:media-picked', e => { window.picked = e.detail; }); }"""
    )
    body = page.locator("#id_body")
    body.evaluate("t => { t.focus(); t.selectionStart = t.selectionEnd = t.value.length; }")
    page.get_by_role("button", name="Insert image").click()
    dialog = page.get_by_role("dialog", name="Insert an image")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Alt text").fill("Our logo")
    expect(dialog.locator("img")).to_have_count(1)  # images only: the PDF is not offered
    shot(page, f"media-picker-{size}", full_page=False)
    dialog.get_by_role("button", name="logo.png").click()

    expect(dialog).to_be_hidden()
    url = services.public_url(logo)
    assert body.input_value() == f"Hello.\n\n![Our logo]({url})"
    detail = page.evaluate("window.picked")
    assert detail == {
        "id": logo.pk, "url": url, "name": "logo.png", "alt": "Our logo", "width": 240,
        "height": 80,
    }  # fmt: skip
    expect(page.frame_locator("#preview iframe").first.locator(f'img[src="{url}"]')).to_be_visible()

    page.get_by_label("leaflet.pdf").check()
    assert fits_the_screen(page)
    shot(page, f"media-editor-{size}")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Campaign saved.")).to_be_visible()
    draft.refresh_from_db()
    assert url in draft.body
    assert [a.media.name for a in draft.attachments.all()] == ["leaflet.pdf"]


def test_in_the_visual_editor_the_toolbar_picks_an_image_into_the_editor(make_page, owner, library):
    news = audience.create_list("News")
    draft = campaigns.create_campaign(
        name="Spring", subject="Spring", body="<p>Hello.</p>", body_format="html",
        from_email="news@example.org", lists=[news],
    )  # fmt: skip
    logo = MediaFile.objects.get(name="logo.png")
    page = make_page(**SIZES["desktop"], user=owner)
    page.goto(f"/campaigns/{draft.pk}/edit/")
    surface = page.get_by_role("textbox", name="Body (visual editor)")
    surface.locator("p").first.click()
    page.keyboard.press("End")
    page.get_by_role("toolbar", name="Formatting").get_by_role(
        "button", name="Media library"
    ).click()
    dialog = page.get_by_role("dialog", name="Insert an image")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Alt text").fill("Our logo")
    dialog.get_by_role("button", name="logo.png").click()

    url = services.public_url(logo)
    expect(surface.locator(f'img[src="{url}"]')).to_have_attribute("alt", "Our logo")
    shot(page, "media-visual-editor-desktop")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Campaign saved.")).to_be_visible()
    draft.refresh_from_db()
    assert f'src="{url}"' in draft.body and "Hello." in draft.body
