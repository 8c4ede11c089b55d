"""Uploaded images: only real images of the allowed formats, never a decompression bomb
opened, wide ones scaled down, camera data gone."""

import io

import pytest
from PIL import Image

from postroom.errors import InvalidInput
from postroom.media import files, images
from tests.media.pictures import jpeg, png, png_header_only

LIMITS = images.Limits(max_bytes=5_000_000, max_pixels=40_000_000, max_width=1200)


def test_a_text_file_renamed_png_is_refused():
    with pytest.raises(InvalidInput, match="not an image Postroom can read"):
        images.process(b"just some text, named logo.png", LIMITS)


def test_a_decompression_bomb_is_refused_before_any_pixel_is_decoded():
    bomb = png_header_only(40_000, 40_000)  # 1.6 billion pixels, 4.8 GB once decoded
    assert len(bomb) < 1000
    with pytest.raises(InvalidInput, match="far too many pixels"):
        images.process(bomb, LIMITS)


def test_an_image_over_the_pixel_limit_is_refused_with_its_size():
    with pytest.raises(InvalidInput, match="7,000 by 7,000 pixels: at most 40,000,000"):
        images.process(png_header_only(7_000, 7_000), LIMITS)


def test_an_image_over_the_byte_limit_is_refused():
    small = images.Limits(max_bytes=1000, max_pixels=40_000_000, max_width=1200)
    with pytest.raises(InvalidInput, match="at most 1,000"):
        images.process(jpeg(300, 300), small)


def test_a_format_mail_clients_do_not_show_is_refused():
    out = io.BytesIO()
    Image.new("RGB", (10, 10)).save(out, "BMP")
    with pytest.raises(InvalidInput, match="BMP images are not accepted: use JPEG, PNG, GIF"):
        images.process(out.getvalue(), LIMITS)


def test_a_wide_image_is_scaled_to_the_width_and_loses_its_camera_data():
    original = jpeg(3000, 1000, gps=True)
    assert Image.open(io.BytesIO(original)).getexif()  # it had some

    done = images.process(original, LIMITS)

    stored = Image.open(io.BytesIO(done.data))
    assert (done.width, done.height) == stored.size == (1200, 400)
    assert stored.format == "JPEG" and done.content_type == "image/jpeg"
    assert not stored.getexif()
    assert b"CameraMaker" not in done.data and b"Exif" not in done.data


def test_the_recorded_orientation_is_applied_before_the_exif_goes():
    # Orientation 6: the camera was turned; a viewer rotates the 400 x 200 picture upright.
    done = images.process(jpeg(400, 200, orientation=6), LIMITS)
    assert (done.width, done.height) == (200, 400)
    assert not Image.open(io.BytesIO(done.data)).getexif()


def test_a_small_png_keeps_its_size_and_format():
    done = images.process(png(40, 30), LIMITS)
    assert (done.width, done.height, done.extension) == (40, 30, "png")


def test_a_wide_animation_is_refused_rather_than_flattened():
    frames = [Image.new("RGB", (1600, 100), (80 * i, 0, 0)) for i in range(3)]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:])
    with pytest.raises(InvalidInput, match="animation is 1,600 pixels wide: at most 1,200"):
        images.process(out.getvalue(), LIMITS)


@pytest.mark.parametrize(
    ("name", "data", "says"),
    [
        ("invoice.pdf", b"MZ\x90\x00 a program", "is not a .pdf file"),
        ("setup.exe", b"MZ\x90\x00", "files of this type are not accepted"),
        ("notes.txt", b"text\x00\x01binary", "is not a text file"),
        ("empty.pdf", b"", "the file is empty"),
    ],
)
def test_an_attachment_file_is_told_by_its_name_and_checked_by_its_bytes(name, data, says):
    with pytest.raises(InvalidInput, match=says):
        files.check(name, data, 1_000_000)


def test_an_allowed_attachment_gets_the_type_of_its_extension():
    assert files.check("Rechnung.PDF", b"%PDF-1.7 ...", 1000).content_type == "application/pdf"
