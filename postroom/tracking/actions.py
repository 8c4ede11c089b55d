"""What a subscriber may do through a signed link: unsubscribe, change lists, read online.

The public views are thin: they call `resolve` with the token from the URL and
then one of these functions. A token is checked before anything is read, so
a forged or altered link changes nothing and reveals nothing.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction

from postroom.audience.models import MailingList, Subscriber, Subscription
from postroom.audience.services import unsubscribe
from postroom.campaigns.models import Campaign
from postroom.campaigns.spec import compiled_for, recipient_for
from postroom.errors import NotFound
from postroom.mail.links import BadToken
from postroom.tracking.links import verify
from postroom.tracking.models import UnsubscribeEvent


@dataclass(frozen=True)
class LinkTarget:
    subscriber: Subscriber
    campaign: Campaign | None  # None for preference links, or a campaign deleted since


def resolve(token: str, kind: str) -> LinkTarget:
    """Who and which campaign a genuine `kind` token is about; BadToken or NotFound otherwise."""
    name, ids = verify(token)
    if name != kind:
        raise BadToken("this link is not valid here")
    subscriber_id = ids[-1]
    campaign_id = ids[0] if len(ids) == 2 else None
    subscriber = Subscriber.objects.filter(pk=subscriber_id).first()
    if subscriber is None:
        raise NotFound("this subscriber no longer exists")
    campaign = Campaign.objects.filter(pk=campaign_id).first() if campaign_id else None
    return LinkTarget(subscriber, campaign)


def _source(method: str, campaign: Campaign | None) -> str:
    return f"{method} (campaign {campaign.pk})" if campaign else method


def unsubscribe_everything(target: LinkTarget, method: str) -> None:
    """Unsubscribe from every list (the address joins the suppression list), at once.

    This is what the one-click button in a mail client does (RFC 8058): nothing
    else is asked, so the address is never mailed again by this or any campaign.
    """

    with transaction.atomic():
        unsubscribe(target.subscriber, None, source=_source(method, target.campaign))
        UnsubscribeEvent.objects.create(
            subscriber=target.subscriber, campaign=target.campaign, method=method
        )


def current_lists(subscriber: Subscriber) -> list[tuple[MailingList, bool]]:
    """(list, subscribed now) for every list the subscriber is or was on, by name."""
    subscriptions = Subscription.objects.filter(subscriber=subscriber).select_related(
        "mailing_list"
    )
    return sorted(
        ((s.mailing_list, s.status != Subscription.Status.UNSUBSCRIBED) for s in subscriptions),
        key=lambda pair: pair[0].name,
    )


def keep_only(target: LinkTarget, wanted_ids: Iterable[int]) -> list[MailingList]:
    """Leave every list the subscriber is on but did not tick; the lists left.

    Joining lists is left to the subscription forms, where consent is recorded
    and double opt-in applies.
    """

    wanted = set(wanted_ids)
    leaving = [ml for ml, on in current_lists(target.subscriber) if on and ml.pk not in wanted]
    if not leaving:
        return []
    with transaction.atomic():
        unsubscribe(target.subscriber, leaving, source=_source("preferences", target.campaign))
        UnsubscribeEvent.objects.create(
            subscriber=target.subscriber,
            campaign=target.campaign,
            method=UnsubscribeEvent.Method.PREFERENCES,
            lists=", ".join(ml.name for ml in leaving)[:500],
        )
    return leaving


def view_in_browser(target: LinkTarget) -> tuple[str, str]:
    """(subject, html) of the campaign exactly as this subscriber was sent it."""

    if target.campaign is None:
        raise NotFound("this campaign no longer exists")
    subject, html, _ = compiled_for(target.campaign).render_preview(
        recipient_for(target.subscriber)
    )
    return subject, html
