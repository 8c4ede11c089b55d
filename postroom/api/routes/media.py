"""/api/media: the media library — list, upload, read one, delete — through media.services,
as the Media page does. Images come back with the URL an email shows them by."""

from typing import Literal

from django.http import HttpRequest
from ninja import Field, File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile

from postroom.api.errors import errors
from postroom.api.pages import Id
from postroom.media import services
from postroom.media.models import MediaFile

router = Router(tags=["media"])
Kind = Literal["image", "file"]


class MediaOut(Schema):
    id: int
    kind: Kind
    name: str
    content_type: str
    size: int = Field(description="bytes, as stored (an image after resizing)")
    width: int | None
    height: int | None
    url: str | None = Field(description="where an email shows an image from; null for a file")
    uploaded_at: str


class KindIn(Schema):
    kind: Kind = Field(
        "image", description="image: for content (checked, resized, metadata removed); "
        "file: for attachments (PDF, text, office documents…)"
    )  # fmt: skip


class KindQuery(Schema):
    kind: Kind | None = None


def _json(media: MediaFile) -> dict:
    return {
        "id": media.pk,
        "kind": media.kind,
        "name": media.name,
        "content_type": media.content_type,
        "size": media.size,
        "width": media.width,
        "height": media.height,
        "url": services.public_url(media) if media.kind == MediaFile.Kind.IMAGE else None,
        "uploaded_at": media.uploaded_at.isoformat(),
    }


@router.get("", response={200: list[MediaOut]})
def all_media(request: HttpRequest, filters: Query[KindQuery]):
    """Newest first; `kind` to list only images or only files."""
    found = MediaFile.objects.all()
    if filters.kind:
        found = found.filter(kind=filters.kind)
    return [_json(m) for m in found]


@router.post("", response={201: MediaOut, **errors(400)})
def upload(request: HttpRequest, data: Form[KindIn], file: File[UploadedFile]):
    """Upload one file (multipart, field `file`): refused as a whole with the reason."""
    image = data.kind == "image"
    content = services.read_upload(file, image=image)
    media = services.upload(file.name or "", content, image=image, user=request.user)
    return Status(201, _json(media))


@router.get("/{media_id}", response={200: MediaOut, **errors(404)})
def get(request: HttpRequest, media_id: Id):
    return _json(services.get(media_id))


@router.delete("/{media_id}", response={204: None, **errors(400, 404)})
def delete(request: HttpRequest, media_id: Id):
    """Refused while a campaign being sent attaches it."""
    services.delete(services.get(media_id))
    return Status(204, None)
