"""The library's operations, shared by the admin pages, the API and campaigns: upload,
read, public URL, where a file is used, delete, and a campaign's attachments.

Bytes go through Django's storage API (settings.STORAGES["media"]): the data
directory or an S3-compatible bucket, the same code either way.
"""

from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, Storage, storages
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.text import get_valid_filename
from django.utils.translation import gettext

from postroom.campaigns.models import Campaign, Layout
from postroom.errors import InvalidInput, NotFound
from postroom.mail import attachments
from postroom.mail.attachments import Part
from postroom.media import files, images
from postroom.media.models import CampaignAttachment, MediaFile

# A file attached to a campaign in these states is in messages being sent or about to be.
UNDER_WAY = (Campaign.Status.SCHEDULED, Campaign.Status.RUNNING, Campaign.Status.PAUSED)


def storage() -> Storage:
    return storages["media"]


def served_by_postroom() -> bool:
    """Local files are served at /m/…; a bucket serves its own."""
    return isinstance(storage(), FileSystemStorage)


def image_limits() -> images.Limits:
    return images.Limits(
        max_bytes=max_bytes(image=True),
        max_pixels=settings.POSTROOM_MEDIA_IMAGE_MAX_PIXELS,
        max_width=settings.POSTROOM_MEDIA_IMAGE_WIDTH,
    )


def _plain_name(name: str) -> str:
    base = name.replace("\\", "/").rpartition("/")[2].strip()
    if not base or base in (".", ".."):
        raise InvalidInput(gettext("give the file a name"))
    if len(base) > 200:
        raise InvalidInput(gettext("the file name is longer than 200 characters"))
    return base


def max_bytes(*, image: bool) -> int:
    kb = settings.POSTROOM_MEDIA_IMAGE_MAX_KB if image else settings.POSTROOM_MEDIA_FILE_MAX_KB
    return kb * 1024


def read_upload(uploaded: UploadedFile, *, image: bool) -> bytes:
    """An uploaded file's bytes, refused by its size before it is read into memory."""
    limit = max_bytes(image=image)
    if (uploaded.size or 0) > limit:
        raise files.too_big(uploaded.size or 0, limit)
    return uploaded.read()


def upload(name: str, data: bytes, *, image: bool, user=None) -> MediaFile:
    """Check, process and store one file; InvalidInput (nothing stored) if refused.

    `image`: for content (checked and re-encoded by media.images), else a file for
    attachments (media.files).
    """
    name = _plain_name(name)
    width = height = None
    if image:
        done = images.process(data, image_limits())
        stem = name.rpartition(".")[0] or name
        name, data, content_type = f"{stem}.{done.extension}", done.data, done.content_type
        width, height = done.width, done.height
    else:
        content_type = files.check(name, data, max_bytes(image=False)).content_type
    try:
        attachments.check_files([(name, 0)])  # a name a MIME header can carry
    except InvalidInput:
        raise InvalidInput(
            gettext("%(name)s: use a file name without control characters") % {"name": repr(name)}
        ) from None
    row = MediaFile(
        kind=MediaFile.Kind.IMAGE if image else MediaFile.Kind.FILE,
        name=name,
        content_type=content_type,
        size=len(data),
        width=width,
        height=height,
        uploaded_by=user if user is not None and user.is_authenticated else None,
    )
    safe = get_valid_filename(name) or "file"
    row.stored_as = storage().save(f"{row.key}/{safe}", ContentFile(data))
    try:
        row.save()
    except BaseException:
        storage().delete(row.stored_as)
        raise
    return row


def get(media_id: int, kind: str | None = None) -> MediaFile:
    found = MediaFile.objects.filter(pk=media_id)
    if kind:
        found = found.filter(kind=kind)
    media = found.first()
    if media is None:
        raise NotFound(gettext("no media file with id %(id)s") % {"id": media_id})
    return media


def read(media: MediaFile) -> bytes:
    with storage().open(media.stored_as, "rb") as f:
        return f.read()


def public_url(media: MediaFile) -> str:
    """The absolute URL an email shows the image by, readable by anyone who has it."""
    if served_by_postroom():
        path = reverse("media_file", args=[media.key, media.name])
        return settings.POSTROOM_BASE_URL + path
    return storage().url(media.stored_as)


@dataclass(frozen=True)
class Usage:
    attached_to: list[Campaign]  # campaigns that send it as an attachment
    shown_in: list[Campaign]  # campaigns whose content links to it
    layouts: list[Layout]

    @property
    def anywhere(self) -> bool:
        return bool(self.attached_to or self.shown_in or self.layouts)


def usage(media: MediaFile) -> Usage:
    """Where the file is used: by its key, which is in every URL of it."""
    return Usage(
        attached_to=list(Campaign.objects.filter(attachments__media=media).order_by("name")),
        shown_in=list(Campaign.objects.filter(body__contains=media.key).order_by("name")),
        layouts=list(Layout.objects.filter(html__contains=media.key).order_by("name")),
    )


def delete(media: MediaFile) -> None:
    """Gone from the library and the store; refused while a campaign under way attaches it.
    A draft or finished campaign that attached it no longer does."""
    busy = Campaign.objects.filter(attachments__media=media, status__in=UNDER_WAY)
    if busy.exists():
        names = ", ".join(f"“{c.name}”" for c in busy[:3])
        raise InvalidInput(
            gettext("%(name)s is attached to %(campaigns)s, which is being sent")
            % {"name": media.name, "campaigns": names}
        )
    stored_as = media.stored_as
    with transaction.atomic():
        CampaignAttachment.objects.filter(media=media).delete()
        media.delete()
        transaction.on_commit(lambda: storage().delete(stored_as))


def set_campaign_attachments(campaign: Campaign, media_ids: list[int]) -> None:
    """The campaign's attachments become these library files, in this order; InvalidInput
    (nothing changed) for an unknown id, too much in all, or a campaign under way."""
    chosen = list(dict.fromkeys(media_ids))
    found = {m.pk: m for m in MediaFile.objects.filter(pk__in=chosen)}
    missing = [str(i) for i in chosen if i not in found]
    if missing:
        raise InvalidInput(gettext("no media file with id %(id)s") % {"id": ", ".join(missing)})
    ordered = [found[i] for i in chosen]
    current = list(campaign.attachments.values_list("media_id", flat=True))
    if current == chosen:
        return
    if campaign.status not in Campaign.EDITABLE:
        raise InvalidInput(
            gettext("the attachments of a campaign can change only before it is sent")
        )
    check_total(ordered)
    with transaction.atomic():
        CampaignAttachment.objects.filter(campaign=campaign).delete()
        CampaignAttachment.objects.bulk_create(
            CampaignAttachment(campaign=campaign, media=m) for m in ordered
        )
        # Compiled campaigns are cached by updated_at: the next message must see the change.
        Campaign.objects.filter(pk=campaign.pk).update(updated_at=timezone.now())


def check_total(chosen: list[MediaFile]) -> None:
    """InvalidInput when the files together are more than one message may carry."""
    total = sum(m.size for m in chosen)
    if total > attachments.MAX_ATTACHMENT_BYTES:
        raise InvalidInput(
            gettext("the attachments come to %(size)s: at most %(most)s in one message")
            % {"size": _mb(total), "most": _mb(attachments.MAX_ATTACHMENT_BYTES)}
        )


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB"


def campaign_parts(campaign: Campaign) -> tuple[Part, ...]:
    """The campaign's attachments as MIME parts' contents, read from the store."""
    if not campaign.pk:
        return ()
    rows = CampaignAttachment.objects.filter(campaign=campaign).select_related("media")
    return tuple(Part(a.media.name, a.media.content_type, read(a.media)) for a in rows)


def tx_part(media_id: int) -> Part:
    """A library file for a transactional message (the API's `media_id`)."""
    media = get(media_id)
    return Part(media.name, media.content_type, read(media))
