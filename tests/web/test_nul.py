"""A NUL character (U+0000) anywhere in a web request is refused with a 400 that
says so, on every page and every form: PostgreSQL can neither store nor compare
it, so before it surfaced as a 500 (a search for `%00`, a JSON attribute "\\u0000")."""

import pytest
from django.test import Client

from postroom.audience.models import Subscriber
from tests.web.pages import PUBLIC, page_urls, world

pytestmark = pytest.mark.django_db(transaction=True)


def test_every_page_refuses_nul_in_its_query(owner_client):
    anonymous = Client()
    seen = 0
    for name, paths in page_urls(world()).items():
        for path in paths:
            client = anonymous if name in PUBLIC else owner_client
            joiner = "&" if "?" in path else "?"
            response = client.get(f"{path}{joiner}q=a%00b&status=%00&page=1")
            if response.status_code == 405:
                continue
            assert response.status_code == 400, f"{path}: HTTP {response.status_code}"
            assert "NUL" in response.content.decode()
            seen += 1
    assert seen >= 40


def test_a_form_with_nul_is_refused_and_changes_nothing(owner_client):
    w = world()
    before = Subscriber.objects.get(pk=w["subscriber_id"])
    response = owner_client.post(
        f"/subscribers/{before.pk}/",
        {"name": "Zo\x00ë", "email": before.email, "attributes": '{"city": "Ba\\u0000th"}'},
    )
    assert response.status_code == 400
    after = Subscriber.objects.get(pk=before.pk)
    assert (after.name, after.attributes) == (before.name, before.attributes)


def test_a_nul_in_a_json_attribute_escape_is_refused(owner_client):
    w = world()
    before = Subscriber.objects.get(pk=w["subscriber_id"])
    response = owner_client.post(
        f"/subscribers/{before.pk}/",
        {"name": "Zoë", "email": before.email, "attributes": '{"city": "Ba\\u0000th"}'},
    )
    assert response.status_code in (200, 400)
    assert Subscriber.objects.get(pk=before.pk).attributes == before.attributes


def test_a_view_reading_the_raw_body_of_a_form_post_still_can(owner_client):
    # The passkey views read request.body; the check must not have used the stream up.
    for body, kind in [("name=x", "application/x-www-form-urlencoded"), ({"name": "x"}, None)]:
        extra = {"content_type": kind} if kind else {}  # None: the test client's multipart
        answer = owner_client.post("/settings/two-factor/passkeys/add/", body, **extra)
        assert answer.status_code in (200, 400)
