"""A list name is one line: the UI, the API and the CLI refuse control characters alike.

A name with CR/LF ends up in confirmation emails, campaign pages and headers; stored,
it broke both. One validator (audience.services.clean_list_name) serves all three.
"""

import pytest
from django.urls import reverse

from postroom.api.models import ApiToken
from postroom.audience.models import MailingList
from postroom.cli import main

pytestmark = pytest.mark.django_db

BAD_NAMES = [
    "News\r\nBcc: everyone@example.org",
    "News\nletter",
    "Tab\there",
    "Bell\x07",
    "A\u2028B",
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_the_cli_refuses_a_list_name_with_control_characters(capsys, name):
    code = main(["lists", "add", name])
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and "control characters" in err
    assert not MailingList.objects.exists()


@pytest.mark.parametrize("name", BAD_NAMES)
def test_the_api_refuses_a_list_name_with_control_characters(client, owner, name):
    _, secret = ApiToken.issue(owner, "tests")
    response = client.post(
        "/api/lists",
        {"name": name},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert response.status_code == 400
    assert "control characters" in response.content.decode()
    assert not MailingList.objects.exists()


@pytest.mark.parametrize("name", BAD_NAMES)
def test_the_ui_refuses_a_list_name_with_control_characters(owner_client, name):
    response = owner_client.post(reverse("lists"), {"name": name, "optin": "single"})
    assert response.status_code == 400
    assert "control characters" in response.content.decode()
    assert not MailingList.objects.exists()


def test_the_ui_refuses_renaming_a_list_to_two_lines(owner_client):
    news = MailingList.objects.create(name="News")
    url = reverse("list_detail", args=[news.pk])
    response = owner_client.post(url, {"name": "News\r\nletter", "optin": "single"})
    assert response.status_code == 400
    news.refresh_from_db()
    assert news.name == "News"


def test_a_name_with_accents_spaces_and_emoji_is_kept(capsys):
    assert main(["lists", "add", "  Café crème ☕ news  "]) == 0
    assert MailingList.objects.get().name == "Café crème ☕ news"
