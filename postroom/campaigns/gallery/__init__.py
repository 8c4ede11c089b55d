"""The layouts gallery: stock layouts an operator adds to their own and then edits.

Each is a plain HTML file beside this module (newsletter.html, …), a template like any
layout, checked by tests/campaigns/test_gallery.py in chromium at 375 and 1024 px and
through SpamAssassin. Adding one makes an ordinary Layout row: later edits to the files
never change what an operator already has.
"""

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from django.db import IntegrityError, transaction
from django.utils.translation import gettext

from postroom.campaigns.models import Layout
from postroom.campaigns.naming import copy_name
from postroom.errors import NotFound

HERE = Path(__file__).parent


@dataclass(frozen=True)
class StockLayout:
    key: str
    name: str
    description: str

    @property
    def html(self) -> str:
        return _read(self.key)


GALLERY = (
    StockLayout(
        "newsletter",
        "Newsletter",
        "A coloured masthead with the list's name over a white card: for regular issues.",
    ),
    StockLayout(
        "announcement",
        "Announcement",
        "The subject as a large centred headline under a red stripe: for one piece of news.",
    ),
    StockLayout(
        "digest",
        "Digest",
        "Each second-level heading starts an item set off by a rule: for a round-up.",
    ),
    StockLayout(
        "plain",
        "Plain",
        "No colours and no frame, like a personal email: for short notes.",
    ),
)


@cache
def _read(key: str) -> str:
    return (HERE / f"{key}.html").read_text(encoding="utf-8")


def stock(key: str) -> StockLayout:
    for entry in GALLERY:
        if entry.key == key:
            return entry
    raise NotFound(gettext("the gallery has no layout %(key)s") % {"key": repr(key)})


def added(entry: StockLayout) -> Layout | None:
    """The operator's layout that is this gallery layout unchanged, if there is one."""
    return Layout.objects.filter(html=entry.html).order_by("pk").first()


def add_to_layouts(key: str) -> Layout:
    """A Layout row made from a gallery layout and named after it ("Copy of Digest" when an
    operator's own layout has the name already); an unchanged earlier copy is reused."""
    entry = stock(key)
    existing = added(entry)
    if existing is not None:
        return existing
    name = entry.name
    if Layout.objects.filter(name=name).exists():
        name = copy_name(name, lambda n: Layout.objects.filter(name=n).exists())
    try:
        with transaction.atomic():
            return Layout.objects.create(name=name, html=entry.html)
    except IntegrityError:  # added by someone else a moment ago
        return Layout.objects.get(name=name)
