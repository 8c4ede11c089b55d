"""The media library in S3-compatible storage: a real S3 server (moto in server mode, on a
loopback port) spoken to over HTTP by django-storages and boto3, nothing mocked."""

import io
import urllib.request

import boto3
import pytest
from moto.server import ThreadedMotoServer
from PIL import Image

from postroom.media import services
from postroom.media.models import MediaFile
from tests.media.pictures import jpeg

BUCKET = "postroom-test"


@pytest.fixture(scope="module")
def s3_server():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_media(s3_server, settings, monkeypatch):
    """STORAGES["media"] as settings.py makes it from POSTROOM_S3_*, pointed at the server."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    client = boto3.client(
        "s3", endpoint_url=s3_server, region_name="us-east-1",
        aws_access_key_id="test-key", aws_secret_access_key="test-secret",
    )  # fmt: skip
    client.create_bucket(Bucket=BUCKET)
    settings.STORAGES = {
        **settings.STORAGES,
        "media": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "endpoint_url": s3_server,
                "region_name": "us-east-1",
                "access_key": "test-key",
                "secret_key": "test-secret",
                "location": "postroom-media",
                "querystring_auth": False,
                "default_acl": "public-read",
                "file_overwrite": False,
                "object_parameters": {"CacheControl": "public, max-age=31536000, immutable"},
            },
        },
    }
    yield client
    for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)


def test_an_image_is_stored_in_the_bucket_and_its_url_serves_it_to_anyone(s3_media, s3_server, db):
    media = services.upload("Team photo.jpg", jpeg(2400, 1600, gps=True), image=True)

    [stored] = s3_media.list_objects_v2(Bucket=BUCKET)["Contents"]
    assert stored["Key"] == f"postroom-media/{media.stored_as}"
    head = s3_media.head_object(Bucket=BUCKET, Key=stored["Key"])
    assert head["CacheControl"] == "public, max-age=31536000, immutable"

    url = services.public_url(media)
    assert url.startswith(f"{s3_server}/{BUCKET}/postroom-media/{media.key}/")
    assert "Signature" not in url and "Expires" not in url  # an email's URL must not expire
    with urllib.request.urlopen(url, timeout=10) as response:  # no credentials at all
        served = response.read()
    assert Image.open(io.BytesIO(served)).size == (1200, 800)
    assert served == services.read(media)


def test_deleting_removes_the_object_from_the_bucket(
    s3_media, db, django_capture_on_commit_callbacks
):
    media = services.upload("brochure.pdf", b"%PDF-1.4 spring offers", image=False)
    assert s3_media.list_objects_v2(Bucket=BUCKET)["KeyCount"] == 1
    with django_capture_on_commit_callbacks(execute=True):  # the object goes once committed
        services.delete(media)
    assert s3_media.list_objects_v2(Bucket=BUCKET)["KeyCount"] == 0
    assert not MediaFile.objects.exists()
