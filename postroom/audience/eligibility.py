"""Who may be mailed: the one definition that campaign counts and the delivery ledger share.

The result stays a plain filtered queryset (EXISTS subqueries, no DISTINCT, no
annotations) so the ledger can turn `qs.values(...).query` into one INSERT…SELECT.
"""

from collections.abc import Iterable

from django.db.models import Exists, OuterRef, Q, QuerySet

from postroom.audience import segments
from postroom.audience.models import MailingList, Segment, Subscriber, Subscription, Suppression


def mailable_subscription(lists: Iterable[MailingList] | None = None) -> Q:
    """A subscription that allows mail: confirmed, or unconfirmed on a single opt-in list.

    With `lists` given, the opt-in is resolved here from the (small) lists table, so the
    per-subscriber subquery needs no join: measurably faster over a million rows.
    """
    confirmed = Subscription.Status.CONFIRMED
    unconfirmed = Subscription.Status.UNCONFIRMED
    if lists is None:
        return Q(status=confirmed) | Q(status=unconfirmed, mailing_list__optin="single")
    single = [ml.pk for ml in lists if ml.optin == MailingList.Optin.SINGLE]
    double = [ml.pk for ml in lists if ml.optin != MailingList.Optin.SINGLE]
    q = Q(pk__isnull=True)  # false: no list
    if single:
        q |= Q(mailing_list_id__in=single, status__in=[confirmed, unconfirmed])
    if double:
        q |= Q(mailing_list_id__in=double, status=confirmed)
    return q


def not_suppressed() -> Q:
    return ~Q(Exists(Suppression.objects.filter(email_hash=OuterRef("email_hash"))))


def not_withdrawn() -> Q:
    """A mailable subscription to some list, or none at all (added without a list): who
    has not unsubscribed from everything, nor left every double opt-in unconfirmed."""
    rows = Subscription.objects.all()
    every_list = MailingList.objects.only("pk", "optin")
    mailable = segments.has_row(rows.filter(mailable_subscription(every_list)))
    return mailable | segments.has_row(rows, present=False)


def mailable_anyone() -> QuerySet[Subscriber]:
    """Whoever may be mailed without a list to go by (a sequence entered by a date or the
    API): active, unsuppressed, and not withdrawn."""
    return Subscriber.objects.filter(status=Subscriber.Status.ACTIVE).filter(
        not_suppressed(), not_withdrawn()
    )


def mailable_subscribers(
    lists: Iterable[MailingList] | QuerySet | None, segment: Segment | None = None
) -> QuerySet[Subscriber]:
    """Active, unsuppressed subscribers with a mailable subscription to one of `lists`.

    With a segment, the result is also narrowed to it. With a segment and no
    lists, it is everyone active and unsuppressed who matches it and has not
    withdrawn: a subscriber with subscriptions needs at least one mailable one
    (so whoever unsubscribed from every list, or never confirmed a double
    opt-in, is left out); one added without any list is included.
    """
    qs = Subscriber.objects.filter(status=Subscriber.Status.ACTIVE).filter(not_suppressed())
    rows = Subscription.objects.all()
    list_ids = _ids(lists)
    if list_ids:
        targeted = MailingList.objects.filter(pk__in=list_ids).only("pk", "optin")
        qs = qs.filter(segments.has_row(rows.filter(mailable_subscription(targeted))))
    elif segment is not None:
        qs = qs.filter(not_withdrawn())
    else:
        # Nothing targeted. A false WHERE rather than .none(): .none() cannot compile to SQL.
        return qs.filter(pk__isnull=True)
    if segment is not None:
        qs = qs.filter(segments.compile_q(segment.definition))
    return qs


def _ids(lists: Iterable[MailingList] | QuerySet | None) -> list[int]:
    if lists is None:
        return []
    if isinstance(lists, QuerySet):
        return list(lists.values_list("pk", flat=True))
    return [item.pk if isinstance(item, MailingList) else int(item) for item in lists]
