"""/api/segments: saved filters over the audience, each with its live count.

A definition is the same validated JSON the UI's builder writes (docs/segments.md);
it is compiled to a query, never SQL from the caller.
"""

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext
from ninja import Field, Router, Schema, Status

from postroom.api import scope
from postroom.api.errors import errors
from postroom.api.fields import Body
from postroom.api.pages import Id
from postroom.audience import segments, services
from postroom.audience.models import Segment
from postroom.errors import InvalidInput, NotFound

router = Router(tags=["segments"])


class SegmentIn(Body):
    name: str
    definition: dict[str, Any] = Field(description='e.g. {"all": [{"field": "tag", "op": …}]}')
    description: str = ""


class SegmentChange(Body):
    """Only the keys given change."""

    name: str | None = None
    definition: dict[str, Any] | None = None
    description: str | None = None


class DefinitionIn(Body):
    definition: dict[str, Any]


class SegmentOut(Schema):
    id: int
    name: str
    description: str
    definition: dict[str, Any]
    summary: str = Field(description="the definition in words")
    count: int | None = Field(description="subscribers it matches now; null when it is broken")


class CountOut(Schema):
    count: int
    summary: str


def _count(request: HttpRequest, definition: dict) -> int:
    return scope.subscribers(request, segments.subscribers_matching(definition)).count()


def _json(request: HttpRequest, segment: Segment) -> dict:
    try:
        summary = segments.describe(segment.definition)
        count: int | None = _count(request, segment.definition)
    except InvalidInput as exc:  # a list or field it names was deleted since
        summary, count = f"broken: {exc}", None
    return {
        "id": segment.pk,
        "name": segment.name,
        "description": segment.description,
        "definition": segment.definition,
        "summary": summary,
        "count": count,
    }


def _segment(segment_id: int) -> Segment:
    found = Segment.objects.filter(pk=segment_id).first()
    if found is None:
        raise NotFound(gettext("no segment with id %(segment_id)s") % {"segment_id": segment_id})
    return found


@router.get("", response={200: list[SegmentOut]})
def all_segments(request: HttpRequest):
    return [_json(request, s) for s in Segment.objects.all()]


@router.post("", response={201: SegmentOut, **errors(400)})
def create(request: HttpRequest, data: SegmentIn):
    segment = services.save_segment(data.name, data.definition, data.description)
    return Status(201, _json(request, segment))


@router.post("/count", response={200: CountOut, **errors(400)})
def live_count(request: HttpRequest, data: DefinitionIn):
    """How many subscribers a definition matches now, without saving it (the builder's count)."""
    definition = segments.validate(data.definition)
    return {"count": _count(request, definition), "summary": segments.describe(definition)}


@router.get("/{segment_id}", response={200: SegmentOut, **errors(404)})
def get(request: HttpRequest, segment_id: Id):
    return _json(request, _segment(segment_id))


@router.patch("/{segment_id}", response={200: SegmentOut, **errors(400, 404)})
def change(request: HttpRequest, segment_id: Id, data: SegmentChange):
    segment = _segment(segment_id)
    saved = services.save_segment(
        segment.name if data.name is None else data.name,
        segment.definition if data.definition is None else data.definition,
        segment.description if data.description is None else data.description,
        segment,
    )
    return _json(request, saved)


@router.delete("/{segment_id}", response={204: None, **errors(404, 409)})
def delete(request: HttpRequest, segment_id: Id):
    """Refused (409) while campaigns use the segment."""
    services.delete_segment(_segment(segment_id))
    return Status(204, None)
