"""One pagination scheme for every collection that can grow: keyset pages in id order.

A page is `{"items": [...], "next": N}`; pass `next` as `after` to get the
following page, until `next` is null. Keyset pages cost the same at row 10 and
row 1,000,000 and never skip or repeat a row when rows are added meanwhile.
Collections that stay small (lists, segments, layouts, senders) come whole.
"""

from collections.abc import Callable
from typing import Annotated, Any

from django.db.models import Model, QuerySet
from ninja import Field, Path, Schema

from postroom.integers import ID_MAX

MAX_PAGE = 1000

# An id in a path: out of the databases' range is a 422 the schema promises, not a 500.
Id = Annotated[int, Path(ge=1, le=ID_MAX)]
ListId = Id


class PageParams(Schema):
    after: int = Field(0, ge=0, le=ID_MAX, description="the previous page's `next`; 0 first")
    limit: int = Field(100, ge=1, le=MAX_PAGE, description="rows per page")


class Page(Schema):
    items: list[dict[str, Any]]
    next: int | None = Field(description="pass as `after` for the next page; null on the last")


def keyset(qs: QuerySet, params: PageParams, row: Callable[[Any], dict]) -> dict[str, Any]:
    """One page of `qs` after `params.after`, in id order."""
    found: list[Model] = list(qs.filter(pk__gt=params.after).order_by("pk")[: params.limit + 1])
    more = len(found) > params.limit
    found = found[: params.limit]
    return {"items": [row(r) for r in found], "next": found[-1].pk if more else None}
