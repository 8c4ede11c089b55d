"""An upload refused for what it is says so in the reader's language; English without one."""

import html
import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from postroom.imports.models import Import

pytestmark = pytest.mark.django_db


def upload(owner_client, news, name: str, data: bytes, **extra):
    return owner_client.post(
        reverse("import_new"),
        {"file": SimpleUploadedFile(name, data), "lists": [news.pk], "mode": "subscribe"},
        **extra,
    )


def test_a_pdf_is_refused_in_german_on_a_german_page(owner_client, news, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    response = upload(owner_client, news, "people.csv", b"%PDF-1.4 ...", HTTP_ACCEPT_LANGUAGE="de")

    page = html.unescape(response.content.decode())
    assert response.status_code == 400
    assert (
        "dies ist ein PDF-Dokument, keine CSV-Datei: öffnen Sie sie und speichern Sie sie"
        " zuerst als CSV (UTF-8)" in page
    )
    assert Import.objects.count() == 0


def test_the_same_refusal_is_english_without_a_language(owner_client, news, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    response = upload(owner_client, news, "people.csv", b"%PDF-1.4 ...")

    page = html.unescape(response.content.decode())
    assert response.status_code == 400
    assert "this is a PDF document, not a CSV file: open it and save it as CSV (UTF-8) first" in (
        page
    )


def test_an_archive_without_a_csv_file_is_refused_in_german(owner_client, news, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w") as archive:
        archive.writestr("logo.png", b"not a list of people")
    response = upload(
        owner_client, news, "export.zip", packed.getvalue(), HTTP_ACCEPT_LANGUAGE="de"
    )

    page = html.unescape(response.content.decode())
    assert response.status_code == 400
    assert "das ZIP-Archiv enthält keine CSV-Datei (es enthält 'logo.png')" in page
    assert "holds no CSV file" not in page
