"""Subscribers out as CSV: streamed in keyset pages, attributes as columns, formula-safe.

Memory stays flat: one pass collects the attribute names (the header needs
them), a second writes the rows page by page.
"""

import csv
import json
from collections.abc import Iterator
from typing import TextIO

from django.db.models import QuerySet

from postroom.audience import segments
from postroom.audience.models import MailingList, Segment, Subscriber, Subscription
from postroom.imports.services import neutralise

PAGE = 2000
BASE_COLUMNS = ["email", "name", "status", "created_at", "lists"]


def subscribers_for(mailing_list: MailingList | None, segment: Segment | None) -> QuerySet:
    """Everyone, a list's subscribers (any subscription status), or a segment's matches."""
    qs = Subscriber.objects.all()
    if segment is not None:
        qs = segments.subscribers_matching(segment.definition)
    if mailing_list is not None:
        qs = qs.filter(subscriptions__mailing_list=mailing_list)
    return qs


def attribute_keys(qs: QuerySet) -> list[str]:
    keys: dict[str, None] = {}
    for attributes in qs.order_by().values_list("attributes", flat=True).iterator(chunk_size=PAGE):
        if isinstance(attributes, dict):
            keys.update(dict.fromkeys(attributes))
    return [k for k in keys if k not in BASE_COLUMNS]


def rows(qs: QuerySet) -> Iterator[list[str]]:
    """The header, then one row per subscriber, every cell neutralised."""
    keys = attribute_keys(qs)
    yield BASE_COLUMNS + keys
    list_names = dict(MailingList.objects.values_list("id", "name"))
    last_id = 0
    columns = ("id", "email", "name", "status", "created_at", "attributes")
    while True:
        page = list(qs.filter(pk__gt=last_id).order_by("pk").values_list(*columns)[:PAGE])
        if not page:
            return
        last_id = page[-1][0]
        on_lists: dict[int, list[str]] = {}
        subscriptions = Subscription.objects.filter(subscriber_id__in=[r[0] for r in page]).exclude(
            status=Subscription.Status.UNSUBSCRIBED
        )
        for subscriber_id, list_id in subscriptions.values_list("subscriber_id", "mailing_list_id"):
            on_lists.setdefault(subscriber_id, []).append(list_names.get(list_id, ""))
        for pk, email, name, status, created_at, attributes in page:
            attributes = attributes if isinstance(attributes, dict) else {}
            cells = [
                email,
                name,
                status,
                created_at.isoformat(),
                "; ".join(sorted(on_lists.get(pk, []))),
            ]
            cells += [_cell(attributes.get(k)) for k in keys]
            yield [neutralise(c) for c in cells]


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def write_csv(qs: QuerySet, out: TextIO) -> int:
    """Write the export to `out`; returns how many subscribers were written."""
    writer = csv.writer(out)
    count = -1
    for row in rows(qs):
        writer.writerow(row)
        count += 1
    return count


class Echo:
    """A file-like object whose write returns the text, for StreamingHttpResponse."""

    def write(self, value: str) -> str:
        return value


def stream_csv(qs: QuerySet) -> Iterator[str]:
    writer = csv.writer(Echo())
    for row in rows(qs):
        yield writer.writerow(row)
