"""Images made in memory for the media tests: real files Pillow writes, and forged headers."""

import io
import struct
import zlib

from PIL import Image


def jpeg(width: int, height: int, *, orientation: int | None = None, gps: bool = False) -> bytes:
    image = Image.new("RGB", (width, height), (200, 40, 40))
    image.paste((20, 20, 200), (0, 0, width // 2, height // 4))  # a mark to find the top by
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"  # Make
    if orientation:
        exif[0x0112] = orientation
    if gps:
        exif[0x8825] = {2: (51.0, 30.0, 0.0), 1: "N"}  # GPSInfo: latitude
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def png(width: int = 40, height: int = 30) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (width, height), (10, 120, 60, 255)).save(out, "PNG")
    return out.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims `width` by `height` pixels in a few hundred bytes: a decompression
    bomb's header (its pixels would be gigabytes once decoded)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
