"""A public list's archive: the index of past issues, each issue, and the Atom feed.

No login, nothing personal: the pages are the same for everyone, so shared
caches may keep them, asking again each time (`no-cache`) and getting a 304
while the ETag (postroom.public.archive.version) still holds.
"""

import uuid
from collections.abc import Callable
from functools import wraps

from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext
from django.views.decorators.http import condition, require_safe

from postroom.audience.models import MailingList
from postroom.errors import NotFound
from postroom.public import archive, feed
from postroom.public.branding import brand_for
from postroom.tracking.forms import list_key, public_lists
from postroom.web.branded import public_language, render_public
from postroom.web.views.public import archive_banner, campaign_page


def archive_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Anything missing (list, page, issue) is one plain 404; the rest may be cached."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            response = view(request, *args, **kwargs)
        except NotFound:
            raise Http404("There is no such archive page.") from None
        response["Cache-Control"] = "public, no-cache"
        return response

    return wrapper


def _index_etag(request: HttpRequest, list_uuid: uuid.UUID) -> str:
    mailing_list = archive.public_list(list_uuid)
    page = request.GET.get("page", "")
    # The form's address is the list's slug unless another list's name makes it ambiguous.
    subscribe = _subscribe_path(mailing_list)
    language = public_language(request, mailing_list)  # the page's words, not only its issues
    stamp = brand_for(mailing_list).stamp
    return archive.version(mailing_list, "index", page, subscribe, stamp, language)


def _entry_etag(request: HttpRequest, list_uuid: uuid.UUID, entry_id: int) -> str:
    mailing_list = archive.public_list(list_uuid)
    language = public_language(request, mailing_list)
    return archive.version(mailing_list, "entry", entry_id, brand_for(mailing_list).stamp, language)


def _feed_etag(request: HttpRequest, list_uuid: uuid.UUID) -> str:
    return archive.version(archive.public_list(list_uuid), "feed")


@require_safe
@archive_page
@condition(etag_func=_index_etag)
def index(request: HttpRequest, list_uuid: uuid.UUID) -> HttpResponse:
    mailing_list = archive.public_list(list_uuid)
    page = archive.page(mailing_list, _page_number(request.GET.get("page")))
    entries = [
        {
            "title": archive.title(mailing_list, campaign),
            "url": archive.entry_url(mailing_list, campaign),
            "at": campaign.finished_at,
        }
        for campaign in page.object_list
    ]
    context = {
        "list": mailing_list,
        "page": page,
        "entries": entries,
        "feed_url": archive.feed_url(mailing_list),
        "subscribe_url": archive.absolute(_subscribe_path(mailing_list)),
    }
    return render_public(request, "web/public/archive.html", context, mailing_list)


@require_safe
@archive_page
@condition(etag_func=_entry_etag)
def entry(request: HttpRequest, list_uuid: uuid.UUID, entry_id: int) -> HttpResponse:
    mailing_list = archive.public_list(list_uuid)
    campaign = archive.entry(mailing_list, entry_id)
    _, html, _ = archive.render(mailing_list, campaign)
    with translation.override(public_language(request, mailing_list)):
        banner = archive_banner(mailing_list, "entry", campaign)
    return campaign_page(archive.as_web_page(html, banner))


@require_safe
@archive_page
@condition(etag_func=_feed_etag)
def atom(request: HttpRequest, list_uuid: uuid.UUID) -> HttpResponse:
    mailing_list = archive.public_list(list_uuid)
    return HttpResponse(feed.atom(mailing_list), content_type="application/atom+xml; charset=utf-8")


def _page_number(raw: str | None) -> int:
    """?page=N, N from 1; anything else is no page."""
    if raw is None:
        return 1
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 6:
        raise NotFound(gettext("no such page"))
    return int(raw)


def _subscribe_path(mailing_list: MailingList) -> str:
    return reverse("public_subscribe", args=[list_key(mailing_list, public_lists())])
