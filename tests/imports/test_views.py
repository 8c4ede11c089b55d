"""The import wizard, history, report and export pages, and who may see them."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from postroom.audience.eligibility import mailable_subscribers
from postroom.audience.models import Subscriber
from postroom.imports import services
from postroom.imports.models import Import
from tests.data import DATA
from tests.imports.conftest import run, write


@pytest.fixture
def draft(news, tmp_path):
    path = write(tmp_path, "email;Vorname\njane@example.com;Jane\nbad;Bob\n")
    return services.prepare(path, lists=["News"])


def urls(imp: Import) -> list[tuple[str, str]]:
    return [
        ("get", reverse("imports")),
        ("get", reverse("import_new")),
        ("get", reverse("import_detail", args=[imp.pk])),
        ("post", reverse("import_mapping", args=[imp.pk])),
        ("get", reverse("import_counts", args=[imp.pk])),
        ("post", reverse("import_start", args=[imp.pk])),
        ("post", reverse("import_discard", args=[imp.pk])),
        ("get", reverse("import_progress", args=[imp.pk])),
        ("get", reverse("import_rejects", args=[imp.pk])),
        ("get", reverse("export")),
    ]


def test_anonymous_visitors_are_sent_to_log_in(client, draft):
    for method, url in urls(draft):
        response = getattr(client, method)(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url


def test_an_outsider_has_no_access_to_any_import_page(client, outsider, draft):
    client.force_login(outsider)
    for method, url in urls(draft):
        assert getattr(client, method)(url).status_code == 403, url
    draft.refresh_from_db()
    assert draft.status == "draft"


def test_a_teammate_sees_the_history(client, teammate, draft):
    client.force_login(teammate)
    response = client.get(reverse("imports"))
    assert response.status_code == 200
    assert b"contacts.csv" in response.content


def test_the_wizard_uploads_previews_runs_and_reports(owner_client, news, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    upload = SimpleUploadedFile(
        "people.csv",
        "E-Mail;Vorname;Stadt\njane@example.com;Jane;Köln\nbad-address;Bob;Paris\n".encode(),
    )
    response = owner_client.post(
        reverse("import_new"), {"file": upload, "lists": [news.pk], "mode": "subscribe"}
    )
    imp = Import.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "import_detail", args=[imp.pk]
    )
    assert (tmp_path / "media" / "imports").exists()

    page = owner_client.get(response["Location"]).content.decode()
    assert "semicolon" in page and "utf-8" in page
    assert "jane@example.com" in page and "city=Köln" not in page and "stadt=Köln" in page
    assert "rejected: not a valid email address" in page

    counts = owner_client.get(reverse("import_counts", args=[imp.pk])).content.decode()
    assert "Would be created" in counts
    assert Subscriber.objects.count() == 0  # the preview writes nothing

    owner_client.post(reverse("import_start", args=[imp.pk]))
    imp.refresh_from_db()
    assert imp.status == "queued"
    assert services.run_pending() is True

    page = owner_client.get(reverse("import_detail", args=[imp.pk])).content.decode()
    assert "finished" in page and "Rejected rows (1)" in page and "bad-address" in page
    csv_text = owner_client.get(reverse("import_rejects", args=[imp.pk])).content.decode()
    # The row as it was in the file, then where and why: fixable and importable again.
    assert csv_text.splitlines()[0] == "E-Mail,Vorname,Stadt,line,reason"
    assert csv_text.splitlines()[1].startswith("bad-address,Bob,Paris,3,")
    assert Subscriber.objects.get().attributes == {"first_name": "Jane", "stadt": "Köln"}


def test_a_file_refused_as_a_whole_is_explained_and_nothing_is_kept(
    owner_client, news, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "media"
    upload = SimpleUploadedFile("book.csv", b"PK\x03\x04" + b"\x00" * 100)
    response = owner_client.post(
        reverse("import_new"), {"file": upload, "lists": [news.pk], "mode": "subscribe"}
    )
    assert response.status_code == 400
    assert (
        "This file cannot be imported: this file starts like a ZIP archive or a spreadsheet "
        "but cannot be opened" in response.content.decode()
    )
    assert Import.objects.count() == 0
    assert list((tmp_path / "media" / "imports").iterdir()) == []


def test_the_mapping_form_changes_how_the_draft_is_read(owner_client, draft):
    owner_client.post(
        reverse("import_mapping", args=[draft.pk]),
        {"encoding": "utf-8", "delimiter": ";", "map-0": "email", "map-1": "name"},
    )
    draft.refresh_from_db()
    assert draft.layout["mapping"] == ["email", "name"]
    owner_client.post(
        reverse("import_mapping", args=[draft.pk]), {"encoding": "utf-8", "delimiter": ","}
    )
    draft.refresh_from_db()
    assert draft.layout["delimiter"] == ","


def test_progress_is_polled_while_running_and_refreshes_when_done(owner_client, draft):
    Import.objects.filter(pk=draft.pk).update(status="running", rows=10, bytes_done=5, file_size=10)
    html = owner_client.get(reverse("import_progress", args=[draft.pk])).content.decode()
    assert 'hx-trigger="every 1s"' in html and "10 rows read" in html
    Import.objects.filter(pk=draft.pk).update(status="finished")
    response = owner_client.get(reverse("import_progress", args=[draft.pk]), HTTP_HX_REQUEST="true")
    assert response["HX-Refresh"] == "true"


def test_a_draft_can_be_discarded(owner_client, draft):
    owner_client.post(reverse("import_discard", args=[draft.pk]))
    assert not Import.objects.exists()


def test_export_downloads_subscribers_with_formulas_neutralised(owner_client, news, tmp_path):
    run(
        write(
            tmp_path,
            'email,name,note\njane@example.com,=cmd(),"@SUM(A1)"\nbob@example.org,Bob,-2\n',
        )
    )
    response = owner_client.get(reverse("export"), {"list": news.pk})
    text = b"".join(response.streaming_content).decode()
    header, *lines = text.splitlines()
    assert header == "email,name,status,created_at,lists,note"
    jane, bob = sorted(lines, key=lambda line: not line.startswith("jane"))
    assert jane.startswith("jane@example.com,'=cmd(),active,")
    assert jane.endswith(",News,'@SUM(A1)")
    assert bob.endswith(",News,'-2")


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_an_import_started_in_the_ui_is_run_by_a_delivery_worker(
    owner_client, news, run_cli, subprocess_env, tmp_path, settings
):
    settings.MEDIA_ROOT = tmp_path / "media"
    upload = SimpleUploadedFile("people.csv", b"email\njane@example.com\nbob@example.com\n")
    owner_client.post(
        reverse("import_new"), {"file": upload, "lists": [news.pk], "mode": "subscribe"}
    )
    imp = Import.objects.get()
    owner_client.post(reverse("import_start", args=[imp.pk]))
    imp.refresh_from_db()
    assert imp.status == "queued"

    worker = run_cli("worker", "--until-idle", env=subprocess_env, timeout=120)
    assert worker.returncode == 0, worker.stderr
    imp.refresh_from_db()
    assert (imp.status, imp.created) == ("finished", 2)
    assert set(Subscriber.objects.values_list("email", flat=True)) == {
        "jane@example.com",
        "bob@example.com",
    }


def test_the_wizard_says_what_it_recognised_and_imports_nobody_who_left_as_mailable(
    owner_client, owner, news, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "media"
    path = DATA / "exports" / "mailchimp" / "unsubscribed_members_export_4f1c8e2a9b.csv"
    upload = SimpleUploadedFile(path.name, path.read_bytes())
    response = owner_client.post(
        reverse("import_new"),
        {"file": upload, "lists": [news.pk], "mode": "subscribe", "resubscribe": "on"},
    )
    imp = Import.objects.get()
    assert response.status_code == 302
    assert (imp.resubscribe, imp.resubscribe_by) == (True, owner.username)
    page = owner_client.get(response["Location"]).content.decode()
    assert "Recognised:</strong> Mailchimp unsubscribed export." in page
    assert f"chosen by {owner.username}" in page
    counts = owner_client.get(reverse("import_counts", args=[imp.pk])).content.decode()
    assert "Mailchimp unsubscribed export: 20 people will be imported as unsubscribed" in counts
    owner_client.post(reverse("import_start", args=[imp.pk]))
    assert services.run_pending() is True
    assert not mailable_subscribers([news]).exists()
    page = owner_client.get(reverse("import_detail", args=[imp.pk])).content.decode()
    assert "20 people were imported as unsubscribed" in page


def test_a_file_of_leavers_without_a_status_asks_for_one(owner_client, news, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    upload = SimpleUploadedFile("blocklist.csv", b"email\nann@example.com\n")
    form = {"file": upload, "lists": [news.pk], "mode": "subscribe"}
    response = owner_client.post(reverse("import_new"), form)
    assert response.status_code == 400
    text = response.content.decode()
    assert "its name &#x27;blocklist.csv&#x27; suggests people who unsubscribed" in text
    assert "Status of everyone whose row gives none" in text
    assert Import.objects.count() == 0
    upload.seek(0)
    response = owner_client.post(reverse("import_new"), {**form, "status": "blocklisted"})
    assert response.status_code == 302
    assert Import.objects.get().layout["status"] == "blocklisted"
