"""The subscribers table's query: filters, search, sorting and keyset pagination.

It lives here, not in the view, so the benchmark times exactly what the page
runs. Pages are fetched by keyset — "rows after (sort value, id)" — over the
(sort column, id) indexes, so page 1 and page 20,000 cost the same; the total
of a filter is counted only up to a cap, never all matches of a million rows.
"""

import base64
import json
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import Q, QuerySet
from django.utils.translation import gettext

from postroom.audience import segments
from postroom.audience.models import Segment, Subscriber, Subscription
from postroom.errors import InvalidInput
from postroom.integers import as_id

PAGE_SIZE = 50
# A filtered total is counted up to here ("10,000+"): counting every match of a
# broad filter over a million rows would cost more than the page itself.
COUNT_CAP = 10_000

# sort name -> (column, descending)
SORTS: dict[str, tuple[str, bool]] = {
    "-created": ("created_at", True),
    "created": ("created_at", False),
    "email": ("email", False),
    "-email": ("email", True),
    "name": ("name", False),
    "-name": ("name", True),
}
DEFAULT_SORT = "-created"


@dataclass
class Filters:
    q: str = ""
    list_id: int | None = None
    list_status: str = ""  # "" = subscribed (not unsubscribed)
    status: str = ""
    tag: str = ""
    segment_id: int | None = None
    sort: str = DEFAULT_SORT
    # Set by the caller, never from the query string: a person granted some lists only
    # (accounts.access) browses the subscribers of those lists.
    within: frozenset[int] | None = None

    @classmethod
    def from_query(cls, params) -> "Filters":
        """Read filters from request.GET/POST; unknown values are ignored, never an error."""

        def number(name: str) -> int | None:
            return as_id(params.get(name) or "")

        sort = params.get("sort") or DEFAULT_SORT
        status = params.get("status") or ""
        list_status = params.get("list_status") or ""
        return cls(
            q=(params.get("q") or "").strip()[:200],
            list_id=number("list"),
            list_status=list_status if list_status in Subscription.Status.values else "",
            status=status if status in Subscriber.Status.values else "",
            tag=(params.get("tag") or "").strip()[:100],
            segment_id=number("segment"),
            sort=sort if sort in SORTS else DEFAULT_SORT,
        )

    def as_query(self) -> dict[str, str]:
        """The non-default filters as query parameters, to carry into links and forms."""
        data = {
            "q": self.q,
            "list": self.list_id or "",
            "list_status": self.list_status,
            "status": self.status,
            "tag": self.tag,
            "segment": self.segment_id or "",
            "sort": "" if self.sort == DEFAULT_SORT else self.sort,
        }
        return {k: str(v) for k, v in data.items() if v}

    @property
    def active(self) -> bool:
        return bool(set(self.as_query()) - {"sort"}) or self.within is not None


def filtered(filters: Filters) -> QuerySet[Subscriber]:
    """Every subscriber matching the filters, unordered (bulk actions run on this too).

    Written for reading a page in index order: membership tests are correlated EXISTS.
    """
    qs = Subscriber.objects.all()
    if filters.within is not None:
        granted = Subscription.objects.filter(mailing_list__in=filters.within)
        qs = qs.filter(segments.has_row(granted, for_paging=True))
    if filters.q:
        needle = filters.q
        if "@" in needle:  # an address (or its start): one seek in the unique email index
            qs = qs.filter(email_prefix(needle.lower()))
        else:
            qs = qs.filter(Q(email__icontains=needle) | Q(name__icontains=needle))
    if filters.list_id:
        rows = Subscription.objects.filter(mailing_list=filters.list_id)
        if filters.list_status:
            rows = rows.filter(status=filters.list_status)
        else:
            rows = rows.exclude(status=Subscription.Status.UNSUBSCRIBED)
        qs = qs.filter(segments.has_row(rows, for_paging=True))
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.tag:
        tagged = Subscriber.tags.through.objects.filter(tag__name=filters.tag)
        qs = qs.filter(segments.has_row(tagged, for_paging=True))
    if filters.segment_id:
        segment = Segment.objects.filter(pk=filters.segment_id).first()
        try:
            if segment is None:
                raise InvalidInput(gettext("no such segment"))
            qs = qs.filter(segments.compile_q(segment.definition, for_paging=True))
        except InvalidInput:
            # A missing segment, or one broken by a later change (a deleted list), matches
            # no one; a false WHERE, not .none(), so bulk actions can still build SQL from it.
            return qs.filter(pk__isnull=True)
    return qs


def email_prefix(prefix: str) -> Q:
    """Addresses starting with `prefix`, written so the unique email index can seek to them.

    SQLite's LIKE is case-insensitive, so it cannot use the (binary) index: a
    range does. Stored addresses are lower-case, and in SQLite's byte order
    every string starting with `prefix` lies below prefix + U+10FFFF.
    """
    q = Q(email__startswith=prefix)
    if connection.vendor == "sqlite":
        q &= Q(email__gte=prefix, email__lt=prefix + "\U0010ffff")
    return q


@dataclass
class Page:
    rows: list[Subscriber]
    next_cursor: str = ""
    first: bool = True
    total: int = 0
    total_capped: bool = False


def page(filters: Filters, cursor: str = "", size: int = PAGE_SIZE, count: bool = True) -> Page:
    """One page of the table, after `cursor` (from the previous page's next_cursor)."""
    column, descending = SORTS[filters.sort]
    base = filtered(filters)
    qs = base
    if cursor:
        value, last_id = _decode(cursor, column)
        cmp, tie = ("lt", "lt") if descending else ("gt", "gt")
        # The first, redundant-looking bound lets the database seek the (column, id) index.
        qs = qs.filter(**{f"{column}__{cmp}e": value}).filter(
            Q(**{f"{column}__{cmp}": value}) | Q(**{column: value, f"id__{tie}": last_id})
        )
    order = [f"-{column}", "-id"] if descending else [column, "id"]
    rows = list(qs.order_by(*order).prefetch_related("tags")[: size + 1])
    result = Page(rows=rows[:size], first=not cursor)
    if len(rows) > size:
        last = rows[size - 1]
        result.next_cursor = _encode(getattr(last, column), last.pk)
    if count and filters.active:
        result.total, result.total_capped = count_upto(base)
    elif count:  # everyone: COUNT(*) over the smallest index is cheap on both databases
        result.total = Subscriber.objects.count()
    return result


def count_upto(qs: QuerySet, cap: int = COUNT_CAP) -> tuple[int, bool]:
    """How many rows, stopping at `cap`: (n, True) means "at least n"."""
    n = qs.order_by()[: cap + 1].count()
    return (cap, True) if n > cap else (n, False)


def _encode(value, pk: int) -> str:
    raw = value.isoformat() if isinstance(value, datetime) else value
    return base64.urlsafe_b64encode(json.dumps([raw, pk]).encode()).decode().rstrip("=")


def _decode(cursor: str, column: str):
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw, pk = json.loads(base64.urlsafe_b64decode(padded.encode()))
        value = datetime.fromisoformat(raw) if column == "created_at" else str(raw)
        return value, int(pk)
    except (ValueError, TypeError):
        raise InvalidInput(
            gettext("this page link is broken; start again from the first page")
        ) from None
