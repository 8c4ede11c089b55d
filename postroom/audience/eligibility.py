"""Who may be mailed: the one definition that campaign counts and the delivery ledger share.

The result stays a plain filtered queryset (EXISTS subqueries, no DISTINCT, no
annotations) so the ledger can turn `qs.values(...).query` into one INSERT…SELECT.
"""

from collections.abc import Iterable

from django.db.models import Exists, OuterRef, Q, QuerySet

from postroom.audience import segments
from postroom.audience.models import MailingList, Segment, Subscriber, Subscription, Suppression


def mailable_subscription() -> Q:
    """A subscription that allows mail: confirmed, or unconfirmed on a single opt-in list."""
    return Q(status=Subscription.Status.CONFIRMED) | Q(
        status=Subscription.Status.UNCONFIRMED,
        mailing_list__optin=MailingList.Optin.SINGLE,
    )


def not_suppressed() -> Q:
    return ~Q(Exists(Suppression.objects.filter(email_hash=OuterRef("email_hash"))))


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
    rows = Subscription.objects.filter(subscriber=OuterRef("pk")).filter(mailable_subscription())
    list_ids = _ids(lists)
    if list_ids:
        qs = qs.filter(Exists(rows.filter(mailing_list_id__in=list_ids)))
    elif segment is not None:
        anything = Subscription.objects.filter(subscriber=OuterRef("pk"))
        qs = qs.filter(Q(Exists(rows)) | ~Q(Exists(anything)))
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
