"""A public list's archive as an Atom feed (RFC 4287), written by Django's feed generator.

The generator escapes every value and writes well-formed XML; this module
decides what goes in: absolute links from POSTROOM_BASE_URL, the subject and
the anonymous copy of each of the newest FEED_SIZE campaigns (archive.render).
"""

import re

from django.utils.feedgenerator import Atom1Feed
from django.utils.html import escape

from postroom.audience.models import MailingList
from postroom.errors import NotFound
from postroom.public import archive

# Characters XML 1.0 cannot carry at all (the generator refuses them).
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
SUMMARY_CHARS = 300


class _AtomWithContent(Atom1Feed):
    """Atom with each entry's whole email as <content type="html"> beside its summary."""

    def add_item_elements(self, handler, item) -> None:
        super().add_item_elements(handler, item)
        handler.addQuickElement("content", item["content"], {"type": "html"})


def _xml_text(value: str) -> str:
    return _NOT_XML.sub("", value)


def _summary(text: str) -> str:
    """The first words of the plain-text part, as HTML (escaped)."""
    words = " ".join(text.split())
    if len(words) > SUMMARY_CHARS:
        words = words[:SUMMARY_CHARS].rsplit(" ", 1)[0] + " …"
    return escape(_xml_text(words))


def atom(mailing_list: MailingList) -> str:
    """The feed document, newest first."""
    feed = _AtomWithContent(
        title=_xml_text(mailing_list.name),
        link=archive.archive_url(mailing_list),
        description=_xml_text(mailing_list.description),
        subtitle=_xml_text(mailing_list.description) or None,
        feed_url=archive.feed_url(mailing_list),
        feed_guid=archive.archive_url(mailing_list),
    )
    for campaign in archive.entries(mailing_list).select_related("layout")[: archive.FEED_SIZE]:
        try:
            subject, html, text = archive.render(mailing_list, campaign)
        except NotFound:
            continue  # it cannot be shown on its page either
        url = archive.entry_url(mailing_list, campaign)
        feed.add_item(
            title=_xml_text(subject or campaign.name),
            link=url,
            unique_id=url,
            description=_summary(text),
            content=_xml_text(archive.body_of(html)),
            pubdate=campaign.finished_at,
            updateddate=campaign.finished_at,
        )
    return feed.writeString("utf-8")
