"""The mail core's refusals reach pages in the reader's language through its hook
(postroom.mail.language, given Django's translator by the campaigns app)."""

import html

import pytest
from django.urls import reverse

from tests.campaigns.fixtures import news  # noqa: F401

pytestmark = pytest.mark.django_db


def preview(owner_client, news, **extra) -> str:  # noqa: F811
    data = {
        "name": "Autumn",
        "subject": "{{ nope }}",
        "from_email": "news@example.org",
        "body_format": "markdown",
        "body": "Hello",
        "lists": [news.pk],
        "priority": "1",
        "in_doubt_policy": "hold",
    }
    response = owner_client.post(reverse("campaign_live_preview"), data, **extra)
    return html.unescape(response.content.decode())


def test_a_template_problem_is_shown_in_german_on_a_german_page(owner_client, news):  # noqa: F811
    page = preview(owner_client, news, HTTP_ACCEPT_LANGUAGE="de")

    assert "subject, Zeile 1: unbekannte Variable 'nope'" in page
    assert "unknown variable" not in page


def test_the_same_problem_is_english_without_a_language(owner_client, news):  # noqa: F811
    page = preview(owner_client, news)

    assert "subject, line 1: unknown variable 'nope'" in page
