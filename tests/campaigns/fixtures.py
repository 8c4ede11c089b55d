"""Shared fixtures of the campaign and tracking tests: a list, a reader, a campaign."""

import pytest

from postroom.audience import services as audience
from postroom.audience.models import MailingList
from postroom.campaigns import services

BODY = """# Hello {{ subscriber.first_name | default("friend") }}

Our spring news, with [a link](https://example.com/spring).
"""


@pytest.fixture
def news(db) -> MailingList:
    return MailingList.objects.create(name="News")


@pytest.fixture
def ann(news):
    return audience.add_subscriber("ann@example.com", name="Ann Lee", lists=[news])


@pytest.fixture
def campaign(news, ann):
    return services.create_campaign(
        name="Spring",
        subject="Spring news for {{ subscriber.first_name }}",
        from_email="news@example.org",
        from_name="Example News",
        body=BODY,
        lists=[news],
    )
