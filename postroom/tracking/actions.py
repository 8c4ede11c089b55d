"""What a subscriber may do through a signed link: unsubscribe (and come back), change lists,
read online.

The public views are thin: they call `resolve` with the token from the URL and
then one of these functions. A token is checked before anything is read, so
a forged or altered link changes nothing and reveals nothing.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from postroom.audience import services as audience
from postroom.audience.models import MailingList, Subscriber, Subscription, Suppression
from postroom.campaigns.models import Campaign
from postroom.campaigns.spec import compiled_for, recipient_for
from postroom.errors import NotAllowed, NotFound
from postroom.mail.links import BadToken
from postroom.tracking.links import verify
from postroom.tracking.models import SignupRequest, UnsubscribeEvent

# "Subscribe again" is an undo: it works this long after unsubscribing through the link.
RESUBSCRIBE_HOURS = 24


@dataclass(frozen=True)
class LinkTarget:
    subscriber: Subscriber
    campaign: Campaign | None  # None for preference links, or a campaign deleted since


def resolve(token: str, kind: str) -> LinkTarget:
    """Who and which campaign a genuine `kind` token is about; BadToken or NotFound otherwise."""
    name, ids = verify(token)
    if name != kind:
        raise BadToken(gettext("this link is not valid here"))
    subscriber_id = ids[-1]
    campaign_id = ids[0] if len(ids) == 2 else None
    subscriber = Subscriber.objects.filter(pk=subscriber_id).first()
    if subscriber is None:
        raise NotFound(gettext("this subscriber no longer exists"))
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
        audience.unsubscribe(target.subscriber, None, source=_source(method, target.campaign))
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
        audience.unsubscribe(
            target.subscriber, leaving, source=_source("preferences", target.campaign)
        )
        UnsubscribeEvent.objects.create(
            subscriber=target.subscriber,
            campaign=target.campaign,
            method=UnsubscribeEvent.Method.PREFERENCES,
            lists=", ".join(ml.name for ml in leaving)[:500],
        )
    return leaving


def lists_left(target: LinkTarget) -> list[MailingList]:
    """The campaign's lists the subscriber has left: what "subscribe again" brings back."""
    if target.campaign is None:
        return []
    left = Subscription.objects.filter(
        subscriber=target.subscriber,
        status=Subscription.Status.UNSUBSCRIBED,
        mailing_list__campaigns=target.campaign,
    ).values_list("mailing_list_id", flat=True)
    return list(MailingList.objects.filter(pk__in=list(left)).order_by("name"))


def can_resubscribe(target: LinkTarget, now: datetime | None = None) -> bool:
    """Whether this link unsubscribed the person within RESUBSCRIBE_HOURS.

    The link travels in every copy of the email, forwards included: bounded in
    time, the button undoes a click, and cannot sign a person up again weeks
    after they left.
    """
    if target.campaign is None:
        return False
    since = (now or timezone.now()) - timedelta(hours=RESUBSCRIBE_HOURS)
    return UnsubscribeEvent.objects.filter(
        subscriber=target.subscriber, campaign=target.campaign, at__gte=since
    ).exists()


@dataclass(frozen=True)
class Resubscribed:
    subscribed: list[MailingList] = field(default_factory=list)  # on them again now
    confirming: list[MailingList] = field(default_factory=list)  # a confirmation is on its way


def resubscribe(
    target: LinkTarget, ip: str | None = None, now: datetime | None = None, language: str = ""
) -> Resubscribed:
    """Back on the campaign's lists the person left through this link: what happened.

    Single opt-in lists take them back at once, with this click as the consent
    (source "form", its time and IP, as a sign-up records) and the unsubscribe's
    suppression lifted. Double opt-in lists get a confirmation email instead,
    sent by a worker like every sign-up's (tracking.signups); the click on it
    lifts the suppression. NotAllowed, with nothing changed, for a link too old,
    or an address that bounced, complained or is blocklisted.
    """
    if not can_resubscribe(target, now):
        raise NotAllowed(
            gettext(
                "this link can bring you back for %(hours)s hours after unsubscribing with it; to "
                "subscribe again now, use the list's sign-up form"
            )
            % {"hours": RESUBSCRIBE_HOURS}
        )
    subscriber = target.subscriber
    suppression = audience.suppression_for(subscriber.email)
    liftable = {Suppression.Reason.UNSUBSCRIBED, Suppression.Reason.MANUAL}
    if subscriber.is_blocklisted or (suppression and suppression.reason not in liftable):
        raise NotAllowed(gettext("this address cannot be subscribed again from here"))
    lists = lists_left(target)
    single = [ml for ml in lists if ml.optin == MailingList.Optin.SINGLE]
    double = [ml for ml in lists if ml.optin == MailingList.Optin.DOUBLE]
    with transaction.atomic():
        for mailing_list in single:
            audience.subscribe(subscriber, mailing_list, "form", ip)
        if single:
            audience.lift_suppression(subscriber.email)
        if double:
            SignupRequest.objects.create(
                email=subscriber.email,
                list_ids=[ml.pk for ml in double],
                ip=ip,
                from_link=True,
                language=language,
            )
    return Resubscribed(single, double)


def view_in_browser(target: LinkTarget) -> tuple[str, str]:
    """(subject, html) of the campaign exactly as this subscriber was sent it."""

    if target.campaign is None:
        raise NotFound(gettext("this campaign no longer exists"))
    subject, html, _ = compiled_for(target.campaign).render_preview(
        recipient_for(target.subscriber)
    )
    return subject, html
