"""The media library's screens: the grid with its upload, the picker the campaign editor
opens, delete with where the file is used, and the public file URL images in emails use."""

from django.contrib import messages
from django.core.files.storage import FileSystemStorage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from postroom.errors import InvalidInput, NotFound
from postroom.media import services
from postroom.media.models import MediaFile
from postroom.web.permissions import OperatorRequest, operator_required

# A file's bytes never change under its key (a new upload gets a new key): cache for a year.
FOREVER = "public, max-age=31536000, immutable"


def _media(media_id: int) -> MediaFile:
    try:
        return services.get(media_id)
    except NotFound:
        raise Http404("No such file") from None


def _tiles(kind: str | None = None) -> list[dict]:
    found = MediaFile.objects.all()
    if kind:
        found = found.filter(kind=kind)
    return [
        {"media": m, "url": services.public_url(m) if m.kind == MediaFile.Kind.IMAGE else ""}
        for m in found
    ]


@operator_required
@require_GET
def index(request: OperatorRequest) -> HttpResponse:
    return render(
        request,
        "web/media/index.html",
        {
            "tiles": _tiles(),
            "image_limit": services.max_bytes(image=True),
            "file_limit": services.max_bytes(image=False),
            "width": services.image_limits().max_width,
        },
    )


@operator_required
@require_POST
def upload(request: OperatorRequest) -> HttpResponse:
    """Each chosen file on its own: one refused says why and the others are still kept."""
    image = request.POST.get("kind", "image") != "file"
    chosen = request.FILES.getlist("file")
    if not chosen:
        messages.error(request, _("Choose a file to upload."))
    for uploaded in chosen:
        try:
            data = services.read_upload(uploaded, image=image)
            media = services.upload(uploaded.name or "", data, image=image, user=request.user)
        except InvalidInput as exc:
            messages.error(
                request,
                _("%(file)s: not uploaded: %(reason)s") % {"file": uploaded.name, "reason": exc},
            )
        else:
            messages.success(request, _("Uploaded %(file)s.") % {"file": media.name})
    return redirect("media")


@operator_required
@require_GET
def picker(request: OperatorRequest) -> HttpResponse:
    """The images to choose from: a fragment for the editor's dialog, a page on its own."""
    template = "web/media/_picker.html" if request.htmx else "web/media/picker.html"
    return render(request, template, {"tiles": _tiles(MediaFile.Kind.IMAGE)})


@operator_required
def delete(request: OperatorRequest, media_id: int) -> HttpResponse:
    """GET asks, saying where the file is used; POST deletes it."""
    media = _media(media_id)
    if request.method == "POST":
        try:
            services.delete(media)
        except InvalidInput as exc:
            messages.error(request, str(exc))
            return redirect("media_delete", media.pk)
        messages.success(request, _("Deleted %(file)s.") % {"file": media.name})
        return redirect("media")
    return render(
        request, "web/media/delete.html", {"media": media, "usage": services.usage(media)}
    )


@require_GET
def public_file(request: HttpRequest, key: str, name: str) -> HttpResponseBase:
    """An image of the library, for anyone who has its URL (an email's reader): no login.
    Files for attachments are never served: they go only inside the messages."""
    media = MediaFile.objects.filter(key=key, name=name, kind=MediaFile.Kind.IMAGE).first()
    if media is None:
        raise Http404("No such image")
    storage = services.storage()
    if not isinstance(storage, FileSystemStorage):
        return HttpResponseRedirect(storage.url(media.stored_as))
    try:
        handle = storage.open(media.stored_as, "rb")
    except FileNotFoundError:
        raise Http404("No such image") from None
    response = FileResponse(handle, content_type=media.content_type)
    response["Cache-Control"] = FOREVER
    response["Content-Length"] = str(media.size)
    return response
