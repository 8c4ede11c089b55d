"""/api/layouts: HTML frames with a `{{ content }}` slot, shared by campaigns."""

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from postroom.api.errors import errors
from postroom.api.fields import Body
from postroom.api.pages import Id
from postroom.campaigns import layouts
from postroom.campaigns.models import Layout

router = Router(tags=["layouts"])


class LayoutIn(Body):
    name: str
    html: str = Field(description="HTML with {{ content }} where the campaign's body goes")


class LayoutChange(Body):
    name: str | None = None
    html: str | None = None


class HtmlIn(Body):
    html: str


class LayoutOut(Schema):
    id: int
    name: str
    html: str
    created_at: str
    updated_at: str


class LayoutPreviewOut(Schema):
    html: str = Field(description="the layout around sample content")


def _json(layout: Layout) -> dict:
    return {
        "id": layout.pk,
        "name": layout.name,
        "html": layout.html,
        "created_at": layout.created_at.isoformat(),
        "updated_at": layout.updated_at.isoformat(),
    }


@router.get("", response={200: list[LayoutOut]})
def all_layouts(request: HttpRequest):
    layouts.default_layout()  # the UI shows it from the first visit: so does the API
    return [_json(layout) for layout in Layout.objects.all()]


@router.post("", response={201: LayoutOut, **errors(400)})
def create(request: HttpRequest, data: LayoutIn):
    """Checked as a campaign would be (the slot, syntax, CSS, the template budget)."""
    return Status(201, _json(layouts.create_layout(data.name, data.html)))


@router.post("/preview", response={200: LayoutPreviewOut, **errors(400)})
def preview(request: HttpRequest, data: HtmlIn):
    """Unsaved HTML around sample content, as a reader would see it."""
    return {"html": layouts.preview_layout(data.html)}


@router.get("/{layout_id}", response={200: LayoutOut, **errors(404)})
def get(request: HttpRequest, layout_id: Id):
    return _json(layouts.get_layout(layout_id))


@router.patch("/{layout_id}", response={200: LayoutOut, **errors(400, 404)})
def change(request: HttpRequest, layout_id: Id, data: LayoutChange):
    """Refused while a campaign under way uses it (duplicate it and edit the copy)."""
    layout = layouts.get_layout(layout_id)
    name = layout.name if data.name is None else data.name
    html = layout.html if data.html is None else data.html
    return _json(layouts.update_layout(layout, name, html))


@router.post("/{layout_id}/duplicate", response={201: LayoutOut, **errors(404)})
def duplicate(request: HttpRequest, layout_id: Id):
    return Status(201, _json(layouts.duplicate_layout(layouts.get_layout(layout_id))))


@router.delete("/{layout_id}", response={204: None, **errors(400, 404)})
def delete(request: HttpRequest, layout_id: Id):
    """Refused while an unfinished campaign uses it."""
    layouts.delete_layout(layouts.get_layout(layout_id))
    return Status(204, None)
