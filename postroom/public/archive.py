"""A public list's archive: its finished campaigns marked for it, rendered for nobody.

What appears: campaigns that finished sending, that someone marked "in the
archive", on a list that is public, newest first. Each is rendered as the
view-in-browser page renders it, but for an anonymous reader (no email, no
name, no attributes) with its personal links replaced by neutral ones: "view
in browser" is the entry's own public address, "unsubscribe" and
"preferences" lead to the archive's note on personal links. Opens and clicks
are not instrumented, so an archived copy has no pixel and no redirects.
"""

import hashlib
import re
import uuid
from dataclasses import replace
from typing import Any

from django.conf import settings
from django.core.paginator import InvalidPage, Page, Paginator
from django.db.models import Max, QuerySet
from django.urls import reverse
from django.utils.translation import gettext

from postroom.audience.models import MailingList
from postroom.campaigns.models import Campaign, Layout
from postroom.campaigns.spec import spec_for
from postroom.errors import NotFound, PostroomError
from postroom.mail.compose import Recipient, compile_campaign
from postroom.mail.content import has_template_tags
from postroom.mail.links import LinkSigner

PAGE_SIZE = 20
FEED_SIZE = 20
# Where an archived copy's unsubscribe and preferences links lead (the archive page says why).
PERSONAL_LINKS_ANCHOR = "personal-links"

# Nobody: what a template sees in an archived copy.
ANONYMOUS = Recipient(subscriber_id=0, email="", name="", attributes={})


def absolute(path: str) -> str:
    """`path` on the installation's public base URL (POSTROOM_BASE_URL), as links use."""
    return settings.POSTROOM_BASE_URL.rstrip("/") + path


def archive_url(mailing_list: MailingList) -> str:
    return absolute(reverse("public_archive", args=[mailing_list.uuid]))


def feed_url(mailing_list: MailingList) -> str:
    return absolute(reverse("public_archive_feed", args=[mailing_list.uuid]))


def entry_url(mailing_list: MailingList, campaign: Campaign) -> str:
    return absolute(reverse("public_archive_entry", args=[mailing_list.uuid, campaign.pk]))


def public_list(list_uuid: uuid.UUID | str) -> MailingList:
    """The public list with this uuid; NotFound for a private or unknown one (said alike)."""
    try:
        wanted = uuid.UUID(str(list_uuid))
    except ValueError:
        raise NotFound(gettext("no such archive")) from None
    found = MailingList.objects.filter(uuid=wanted, visibility=MailingList.Visibility.PUBLIC)
    mailing_list = found.first()
    if mailing_list is None:
        raise NotFound(gettext("no such archive"))
    return mailing_list


def entries(mailing_list: MailingList) -> QuerySet[Campaign]:
    """What the list's archive shows, newest first."""
    if not mailing_list.is_public:
        return Campaign.objects.none()
    return Campaign.objects.filter(
        kind=Campaign.Kind.NEWSLETTER,
        status=Campaign.Status.FINISHED,
        in_archive=True,
        lists=mailing_list,
    ).order_by("-finished_at", "-pk")


def page(mailing_list: MailingList, number: int) -> Page:
    """One page of the archive, from 1; NotFound for a page number that is not one."""
    paginator = Paginator(entries(mailing_list), PAGE_SIZE)
    try:
        return paginator.page(number)
    except InvalidPage:
        raise NotFound(gettext("no such page")) from None


def entry(mailing_list: MailingList, campaign_id: int) -> Campaign:
    found = entries(mailing_list).select_related("layout").filter(pk=campaign_id).first()
    if found is None:
        raise NotFound(gettext("no such campaign in this archive"))
    return found


def archives_of(campaign: Campaign) -> list[MailingList]:
    """The public lists whose archive shows `campaign` (none unless it is finished and marked)."""
    if not (campaign.in_archive and campaign.status == Campaign.Status.FINISHED):
        return []
    return list(campaign.lists.filter(visibility=MailingList.Visibility.PUBLIC).order_by("name"))


class _NeutralLinks(LinkSigner):
    """An archived copy's links: none names a subscriber, none is signed."""

    def __init__(self, view: str, personal: str) -> None:
        super().__init__(settings.SECRET_KEY, settings.POSTROOM_BASE_URL)
        self.view, self.personal = view, personal

    def unsubscribe_urls(
        self, campaign_id: int, subscriber_id: int, mailbox: str = ""
    ) -> tuple[str, str | None]:
        return self.personal, None

    def preferences_url(self, subscriber_id: int) -> str:
        return self.personal

    def view_url(self, campaign_id: int, subscriber_id: int) -> str:
        return self.view

    def url(self, kind: str, *ids: int) -> str:
        # Fails closed: should the message builder ask for any other signed link one day,
        # an archived copy shows an error rather than a link about someone.
        raise NotFound(gettext("an archived copy has no %(kind)s link") % {"kind": kind})


def render(mailing_list: MailingList, campaign: Campaign, **changes: Any) -> tuple[str, str, str]:
    """(subject, html, text) of the archived copy; NotFound when it can no longer render
    (its layout was broken since, say): the page is then missing, never half-personal.
    `changes` replace parts of the campaign's CampaignSpec (see `title`)."""
    spec = replace(spec_for(campaign), **changes, track_opens=False, track_clicks=False)
    links = _NeutralLinks(
        entry_url(mailing_list, campaign),
        f"{archive_url(mailing_list)}#{PERSONAL_LINKS_ANCHOR}",
    )
    try:
        return compile_campaign(spec, links).render_preview(ANONYMOUS)
    except PostroomError as exc:
        raise NotFound(
            gettext("campaign %(campaign)s cannot be shown: %(error)s")
            % {"campaign": campaign.pk, "error": exc}
        ) from None


def title(mailing_list: MailingList, campaign: Campaign) -> str:
    """The subject as an anonymous reader gets it (rendered only when it is a template).

    Only the subject is wanted, so the campaign is compiled without its body and
    layout: no Markdown, no CSS inlining (measured 14 ms a campaign in full).
    """
    if not has_template_tags(campaign.subject):
        return campaign.subject
    bare = {"body": "", "text_body": "", "preheader": "", "layout_html": "", "body_format": "plain"}
    try:
        return render(mailing_list, campaign, **bare)[0] or campaign.name
    except NotFound:
        return campaign.name


_BODY_OPEN = re.compile(r"<body\b[^>]*>", re.I)
_BODY = re.compile(r"<body\b[^>]*>(.*)</body\s*>", re.I | re.S)


_BODY_CLOSE = re.compile(r"</body\s*>", re.I)
_HAS_MAIN = re.compile(r"<main\b|role\s*=\s*[\"']?main\b", re.I)


def as_web_page(html: str, banner: str = "") -> str:
    """An email shown on the web: `banner` (trusted HTML) first in its body, and the email
    itself the page's main landmark, so a screen reader can jump past the banner to it
    (unless the author's HTML already has a main of its own)."""
    main_open, main_close = ("", "") if _HAS_MAIN.search(html) else ("<main>", "</main>")
    found = _BODY_OPEN.search(html)
    start = found.end() if found else 0
    close = _BODY_CLOSE.search(html, start)
    end = close.start() if close else len(html)
    return html[:start] + banner + main_open + html[start:end] + main_close + html[end:]


def body_of(html: str) -> str:
    """What is inside <body>, for a feed entry (a feed reader wants no <head>)."""
    found = _BODY.search(html)
    return found.group(1).strip() if found else html


def version(mailing_list: MailingList, *extra: object) -> str:
    """A short tag that changes whenever the archive's pages could: for ETags.

    It covers which campaigns are shown and their last edit, the list's name,
    every layout's last edit (an entry is rendered in today's layout), the base
    URL the links are made from, and whatever the caller adds (the brand, a page).
    """
    shown = list(entries(mailing_list).values_list("pk", "updated_at"))
    layouts = Layout.objects.aggregate(last=Max("updated_at"))["last"]
    parts = [mailing_list.uuid, mailing_list.name, mailing_list.description, shown, layouts]
    parts += [settings.POSTROOM_BASE_URL, *extra]
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]
