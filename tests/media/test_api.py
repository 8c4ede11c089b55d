"""/api/media: list, upload, read, delete; reading for every role, changing for editors."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from postroom.accounts.models import Role
from postroom.api.models import ApiToken
from postroom.media.models import MediaFile
from tests.media.pictures import jpeg, png

pytestmark = pytest.mark.django_db


def _auth(user, **kwargs) -> dict:
    _, secret = ApiToken.issue(user, "script", **kwargs)
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def test_an_editor_uploads_lists_reads_and_deletes(client, make_user, media_dir):
    auth = _auth(make_user("ed", Role.EDITOR))
    made = client.post(
        "/api/media", {"kind": "image", "file": SimpleUploadedFile("wide.jpg", jpeg(1800, 900))},
        **auth,
    )  # fmt: skip
    assert made.status_code == 201, made.content
    image = made.json()
    assert (image["width"], image["height"], image["kind"]) == (1200, 600, "image")
    assert image["url"].endswith("/wide.jpg") and "/m/" in image["url"]
    client.post("/api/media", {"kind": "file", "file": SimpleUploadedFile("t.txt", b"hi")}, **auth)

    listed = client.get("/api/media", **auth).json()
    assert [m["name"] for m in listed] == ["t.txt", "wide.jpg"]
    assert listed[0]["url"] is None  # a file for attachments has no public URL
    assert [m["name"] for m in client.get("/api/media?kind=image", **auth).json()] == ["wide.jpg"]
    assert client.get(f"/api/media/{image['id']}", **auth).json()["name"] == "wide.jpg"
    assert client.delete(f"/api/media/{image['id']}", **auth).status_code == 204
    assert client.get(f"/api/media/{image['id']}", **auth).status_code == 404


def test_a_refused_upload_answers_400_with_the_reason(client, owner, media_dir):
    answer = client.post(
        "/api/media", {"file": SimpleUploadedFile("x.png", b"GIF89a but not really")},
        **_auth(owner),
    )  # fmt: skip
    assert answer.status_code == 400
    assert answer.json()["detail"] == "the file is not an image Postroom can read"
    assert not MediaFile.objects.exists()


def test_a_viewer_and_a_read_only_token_only_read(client, make_user, owner, media_dir):
    client.post("/api/media", {"file": SimpleUploadedFile("a.png", png())}, **_auth(owner))
    media_id = MediaFile.objects.get().pk
    for auth in (_auth(make_user("vera", Role.VIEWER)), _auth(owner, scopes=["read"])):
        assert client.get("/api/media", **auth).status_code == 200
        upload = client.post("/api/media", {"file": SimpleUploadedFile("b.png", png())}, **auth)
        assert upload.status_code == 403
        assert client.delete(f"/api/media/{media_id}", **auth).status_code == 403
    assert MediaFile.objects.count() == 1


def test_a_send_token_may_use_the_library_and_a_subscribers_token_may_not_change_it(
    client, owner, media_dir
):
    send = _auth(owner, scopes=["send"])
    upload = client.post("/api/media", {"file": SimpleUploadedFile("a.png", png())}, **send)
    assert upload.status_code == 201
    audience = _auth(owner, scopes=["subscribers"])
    assert client.get("/api/media", **audience).status_code == 200  # shared reading
    refused = client.post("/api/media", {"file": SimpleUploadedFile("b.png", png())}, **audience)
    assert refused.status_code == 403


def test_anonymous_callers_get_401(client, db):
    assert client.get("/api/media").status_code == 401
    assert client.delete("/api/media/1").status_code == 401
