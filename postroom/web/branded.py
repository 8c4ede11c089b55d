"""Rendering the pages subscribers see, in the installation's (or the list's) brand.

Every public page goes through `render_public`, so each one gets the brand in
its template (`brand`, read by public_base.html), the public pages' strict
Content-Security-Policy, which lets in images from the logo's host only, and
the reader's language (`public_language`).
"""

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation

from postroom.audience import languages
from postroom.audience.models import MailingList, Subscriber
from postroom.campaigns.models import Campaign
from postroom.public.branding import brand_for
from postroom.web.csp import public_policy
from postroom.web.languages import browser_language


def render_public(
    request: HttpRequest,
    template: str,
    context: dict[str, Any],
    mailing_list: MailingList | None = None,
    status: int = 200,
    subscriber: Subscriber | None = None,
) -> HttpResponse:
    brand = brand_for(mailing_list)
    language = public_language(request, mailing_list, subscriber)
    with translation.override(language):
        response = render(request, template, {**context, "brand": brand}, status=status)
    response["Content-Security-Policy"] = public_policy(brand.logo_origin)
    response["Content-Language"] = language
    return response


def public_language(
    request: HttpRequest,
    mailing_list: MailingList | None = None,
    subscriber: Subscriber | None = None,
) -> str:
    """The subscriber's language, else the list's, else what the browser asks for."""
    return languages.for_reader(subscriber, mailing_list) or browser_language(request)


def list_of(campaign: Campaign | None) -> MailingList | None:
    """The list whose brand a campaign's pages wear: its only list; with several (or
    none), the installation's brand."""
    if campaign is None:
        return None
    lists = list(campaign.lists.all()[:2])
    return lists[0] if len(lists) == 1 else None
