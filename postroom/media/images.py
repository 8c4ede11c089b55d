"""Uploaded images checked and made fit for email with Pillow; no Django, no database.

An upload is refused unless Pillow reads it as one of the allowed formats; its
pixel count is checked from the header before any pixel is decoded, so a small
file that would expand into gigabytes (a decompression bomb) is never loaded.
What is kept is re-encoded: EXIF and other metadata (camera, GPS position) are
dropped, the orientation it recorded is applied first, and an image wider than
the limit is scaled down, since mail clients show at most ~600 px and every
reader downloads the full file. Its refusals are translated through the mail core's
Django-free hook (postroom.mail.language).
"""

import io
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from postroom.errors import InvalidInput
from postroom.mail.language import gettext

# Formats every common mail client shows (SVG is left out: it can carry scripts).
FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}
EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "GIF": "gif", "WEBP": "webp"}


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    max_pixels: int  # width times height, read from the header before decoding
    max_width: int  # wider images are scaled down to this


@dataclass(frozen=True)
class Processed:
    data: bytes
    content_type: str
    extension: str
    width: int
    height: int


def process(data: bytes, limits: Limits) -> Processed:
    """The image to store; InvalidInput with the reason for anything else."""
    if len(data) > limits.max_bytes:
        raise InvalidInput(
            gettext("the image is %(size)s bytes: at most %(most)s")
            % {"size": f"{len(data):,}", "most": f"{limits.max_bytes:,}"}
        )
    try:
        image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        raise InvalidInput(gettext("the image has far too many pixels to be opened")) from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise InvalidInput(gettext("the file is not an image Postroom can read")) from None
    with image:
        kind = image.format or ""
        if kind not in FORMATS:
            allowed = ", ".join(FORMATS)
            refusal = (
                gettext("%(kind)s images are not accepted: use %(allowed)s")
                if kind
                else gettext("this images are not accepted: use %(allowed)s")
            )
            raise InvalidInput(refusal % {"kind": kind, "allowed": allowed})
        width, height = image.size
        if width * height > limits.max_pixels:
            raise InvalidInput(
                gettext(
                    "the image is %(width)s by %(height)s pixels: at most %(most)s pixels in all"
                )
                % {"width": f"{width:,}", "height": f"{height:,}", "most": f"{limits.max_pixels:,}"}
            )
        if getattr(image, "n_frames", 1) > 1:
            return _animated(data, image, kind, limits)
        if kind == "JPEG" and width > limits.max_width:
            # libjpeg decodes at 1/2, 1/4 or 1/8 scale straight away, never below the
            # width in either direction (so whatever the orientation): a photo from a
            # phone is resized in a fraction of the time a full decode takes.
            image.draft(image.mode, (limits.max_width, limits.max_width))
        try:
            image.load()
            upright = ImageOps.exif_transpose(image)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
            raise InvalidInput(
                gettext("the image is damaged: Pillow could not decode it")
            ) from None
        if upright.width > limits.max_width:
            scaled = round(upright.height * limits.max_width / upright.width) or 1
            upright = upright.resize((limits.max_width, scaled), Image.Resampling.LANCZOS)
        return Processed(
            _encode(upright, kind), FORMATS[kind], EXTENSIONS[kind], upright.width, upright.height
        )


def _animated(data: bytes, image: Image.Image, kind: str, limits: Limits) -> Processed:
    """Animations are kept as uploaded (re-encoding them frame by frame would lose timing
    and grow them), so one wider than the limit is refused rather than scaled."""
    if image.width > limits.max_width:
        raise InvalidInput(
            gettext(
                "the animation is %(width)s pixels wide: at most %(most)s"
                " (scale it down before uploading)"
            )
            % {"width": f"{image.width:,}", "most": f"{limits.max_width:,}"}
        )
    if kind != "GIF":  # an animated WebP or PNG may carry EXIF/XMP; GIF has nowhere for it
        raise InvalidInput(gettext("animated images are accepted as GIF only"))
    return Processed(data, FORMATS[kind], EXTENSIONS[kind], image.width, image.height)


def _encode(image: Image.Image, kind: str) -> bytes:
    """Re-encoded without metadata (no `exif=`, no `icc_profile` beyond the colours)."""
    out = io.BytesIO()
    if kind == "JPEG":
        if image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
        image.save(out, "JPEG", quality=85, optimize=True, progressive=True)
    elif kind == "PNG":
        image.save(out, "PNG", optimize=True)
    elif kind == "WEBP":
        image.save(out, "WEBP", quality=85, method=4)
    else:
        image.save(out, "GIF", optimize=True)
    return out.getvalue()
