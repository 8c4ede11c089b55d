"""A campaign as people write them, to put each gallery layout through its paces: headings,
links, a list, and a photo far wider than any phone (which the layout must scale down)."""

import base64
import struct
import zlib

from postroom.mail.compose import CampaignSpec, Recipient

READER = Recipient(subscriber_id=9, email="ann@example.com", name="Ann Lee")


def wide_png(width: int = 1200, height: int = 300) -> bytes:
    """A plain green PNG, made without an image library (the tests need none)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    row = b"\x00" + bytes((46, 125, 50)) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(row * height)) + chunk(b"IEND", b""))  # fmt: skip


def body(image_src: str) -> str:
    return f"""<h1>This week at the garden</h1>
<p>Hello {{{{ subscriber.first_name | default("there") }}}}, here is what grew this week in the
community garden, and what is planned for the weeks to come.</p>
<p><img src="{image_src}" width="1200" height="300" alt="Tomatoes on the vine"></p>
<h2>Planting plan</h2>
<p>We moved the beans to the sunny bed and started the autumn salad. Read the
<a href="https://example.org/plan">whole plan</a> on our site.</p>
<h2>Open day</h2>
<ul><li>Saturday from ten to four</li><li>Bring a friend and a pair of gloves</li></ul>
<p>See you there, the garden team</p>"""


def spec(layout_html: str, image_src: str = "https://example.org/tomatoes.jpg") -> CampaignSpec:
    return CampaignSpec(
        campaign_id=5,
        name="Weekly",
        subject="This week at the garden",
        from_email="news@example.org",
        from_name="Garden club",
        body=body(image_src),
        body_format="html",
        layout_html=layout_html,
        list_name="Garden news",
        preheader="Tomatoes, beans and an open day",
    )


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()
