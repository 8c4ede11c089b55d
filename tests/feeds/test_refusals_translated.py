"""A feed's refusals in the caller's language: German when asked, English otherwise.

They need the compiled catalogue (scripts/messages) to carry these strings.
"""

import pytest

from postroom.audience import services as audience
from postroom.feeds.models import Feed
from tests.api.conftest import api, refused, token_for  # noqa: F401

pytestmark = pytest.mark.django_db

GERMAN = {"HTTP_ACCEPT_LANGUAGE": "de-DE,de;q=0.9"}
BLOG = {"name": "Blog", "url": "https://blog.example.org/feed.xml", "lists": ["news"]}


@pytest.fixture(autouse=True)
def news(db):
    return audience.create_list("news")


@pytest.mark.parametrize(
    ("headers", "said"),
    [
        (GERMAN, "die Feed-Adresse muss mit http:// oder https:// beginnen: 'ftp://x'"),
        ({}, "the feed address must start with http:// or https://: 'ftp://x'"),
    ],
)
def test_an_address_that_is_not_the_web_is_refused(api, headers, said):  # noqa: F811
    response = api.post("/api/feeds", {**BLOG, "url": "ftp://x"}, **headers)

    assert refused(response, 400) == said
    assert not Feed.objects.exists()


@pytest.mark.parametrize(
    ("headers", "said"),
    [
        (GERMAN, "der Betreff ist keine gültige Vorlage: "),
        ({}, "the subject is not a valid template: "),
    ],
)
def test_a_broken_subject_template_is_refused_whole(api, headers, said):  # noqa: F811
    response = api.post("/api/feeds", {**BLOG, "subject": "{% if"}, **headers)

    assert refused(response, 400).startswith(said)
    assert not Feed.objects.exists()
