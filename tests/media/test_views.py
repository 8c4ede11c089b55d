"""The Media page: upload, the public URL images in emails use, delete with where it is used."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from postroom.accounts.models import Role
from postroom.campaigns.models import Campaign
from postroom.media import services
from postroom.media.models import CampaignAttachment, MediaFile
from tests.delivery.helpers import make_audience, make_campaign
from tests.media.pictures import jpeg, png, png_header_only

pytestmark = pytest.mark.django_db


def _upload(client, name: str, data: bytes, kind: str = "image"):
    return client.post("/media/upload/", {"kind": kind, "file": [_file(name, data)]}, follow=True)


def _file(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data)


def test_an_uploaded_image_is_listed_and_served_to_anyone_with_cache_headers(
    owner_client, client, media_dir
):
    page = _upload(owner_client, "hero.jpg", jpeg(2000, 1000))
    assert "Uploaded hero.jpg." in page.content.decode()
    media = MediaFile.objects.get()
    assert (media.width, media.height, media.kind) == (1200, 600, "image")
    assert "1200 \u00d7 600 px" in page.content.decode()
    assert list(media_dir.rglob("*.jpg"))  # in the storage's folder, nowhere else

    url = services.public_url(media)
    assert url == f"http://127.0.0.1:8000/m/{media.key}/hero.jpg"
    client.logout()
    response = client.get(url.removeprefix("http://127.0.0.1:8000"))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"
    assert Image.open(io.BytesIO(b"".join(response.streaming_content))).size == (1200, 600)


def test_a_file_for_attachments_is_never_served_publicly(owner_client, client, media_dir):
    _upload(owner_client, "prices.pdf", b"%PDF-1.4 prices", kind="file")
    media = MediaFile.objects.get()
    client.logout()
    assert client.get(f"/m/{media.key}/prices.pdf").status_code == 404
    assert client.get(f"/m/{media.key}/other.jpg").status_code == 404


@pytest.mark.parametrize(
    ("name", "data", "says"),
    [
        ("logo.png", b"not an image at all", "logo.png: not uploaded: the file is not an image"),
        ("bomb.png", png_header_only(30_000, 30_000), "bomb.png: not uploaded: the image has"),
    ],
)
def test_a_refused_upload_says_why_and_stores_nothing(owner_client, media_dir, name, data, says):
    page = _upload(owner_client, name, data)
    assert says in page.content.decode()
    assert not MediaFile.objects.exists()
    assert not media_dir.exists() or not any(p.is_file() for p in media_dir.rglob("*"))


def test_a_viewer_sees_the_library_but_cannot_upload_or_delete(client, make_user, media_dir):
    media = services.upload("a.png", png(), image=True)
    client.force_login(make_user("vera", Role.VIEWER))
    assert client.get("/media/").status_code == 200
    assert client.post("/media/upload/", {"file": _file("b.png", png())}).status_code == 403
    assert client.post(f"/media/{media.pk}/delete/").status_code == 403
    assert MediaFile.objects.count() == 1


def test_delete_asks_first_and_says_where_the_file_is_used(
    owner_client, media_dir, django_capture_on_commit_callbacks
):
    image = services.upload("banner.png", png(), image=True)
    leaflet = services.upload("leaflet.pdf", b"%PDF-1.4 x", image=False)
    news = make_audience(1)
    draft = make_campaign(news, name="Spring draft", body=f"![b]({services.public_url(image)})")
    services.set_campaign_attachments(draft, [leaflet.pk])

    asked = owner_client.get(f"/media/{image.pk}/delete/").content.decode()
    assert "shown in campaign" in asked and "Spring draft" in asked
    asked = owner_client.get(f"/media/{leaflet.pk}/delete/").content.decode()
    assert "attached to campaign" in asked and "will no longer attach it" in asked

    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(f"/media/{leaflet.pk}/delete/")
    assert not MediaFile.objects.filter(pk=leaflet.pk).exists()
    assert not CampaignAttachment.objects.exists()
    assert not (media_dir / leaflet.stored_as).exists()


def test_a_file_attached_to_a_campaign_being_sent_cannot_be_deleted(owner_client, media_dir):
    leaflet = services.upload("leaflet.pdf", b"%PDF-1.4 x", image=False)
    campaign = make_campaign(make_audience(1), name="Going out")
    services.set_campaign_attachments(campaign, [leaflet.pk])
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.RUNNING)

    page = owner_client.post(f"/media/{leaflet.pk}/delete/", follow=True).content.decode()
    assert "leaflet.pdf is attached to “Going out”, which is being sent" in page
    assert MediaFile.objects.filter(pk=leaflet.pk).exists()


def test_the_picker_lists_images_only(owner_client, media_dir):
    services.upload("photo.png", png(), image=True)
    services.upload("terms.txt", b"terms", image=False)
    fragment = owner_client.get("/media/picker/", HTTP_HX_REQUEST="true").content.decode()
    assert "photo.png" in fragment and "terms.txt" not in fragment
    assert "<html" not in fragment
    assert "<html" in owner_client.get("/media/picker/").content.decode()
