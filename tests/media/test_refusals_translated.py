"""An upload the media library refuses says why in the reader's language; English without one."""

import html

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from postroom.media.models import MediaFile

pytestmark = pytest.mark.django_db


def upload(client, name: str, data: bytes, kind: str, **extra) -> str:
    files = {"kind": kind, "file": [SimpleUploadedFile(name, data)]}
    response = client.post("/media/upload/", files, follow=True, **extra)
    return html.unescape(response.content.decode())


def test_a_file_that_is_no_image_is_refused_in_german(owner_client, media_dir):
    page = upload(
        owner_client, "logo.png", b"not an image at all", "image", HTTP_ACCEPT_LANGUAGE="de"
    )

    assert "die Datei ist kein Bild, das Postroom lesen kann" in page
    assert "not an image" not in page
    assert not MediaFile.objects.exists()


def test_a_renamed_program_is_refused_in_german_and_in_english(owner_client, media_dir):
    german = upload(owner_client, "prices.pdf", b"MZ\x90\x00", "file", HTTP_ACCEPT_LANGUAGE="de")
    english = upload(owner_client, "prices.pdf", b"MZ\x90\x00", "file")

    assert "'prices.pdf' ist keine .pdf-Datei (ihr Inhalt sagt etwas anderes)" in german
    assert "'prices.pdf' is not a .pdf file (its content says otherwise)" in english
    assert not MediaFile.objects.exists()
