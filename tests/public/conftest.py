"""The archive and branding tests' cast: a public list, a reader with personal data, sent
campaigns."""

from datetime import timedelta

import pytest
from django.utils import timezone

from postroom.audience import services as audience
from postroom.audience.models import MailingList
from postroom.campaigns import services
from postroom.campaigns.models import Campaign

BASE_URL = "https://news.example.org"
# Everything personal a template can print, and every personal link.
BODY = """# Hello {{ subscriber.first_name | default("reader") }}

Written for {{ subscriber.email }} ({{ subscriber.name }}) in {{ subscriber.attributes.city }}.
Read [our spring story](https://example.com/spring).

[View online]({{ view_url }}) · [Preferences]({{ preferences_url }})
· [Leave]({{ unsubscribe_url }})
"""


@pytest.fixture(autouse=True)
def base_url(settings):
    settings.POSTROOM_BASE_URL = BASE_URL
    return BASE_URL


@pytest.fixture
def news(db) -> MailingList:
    return audience.create_list("News", public=True, description="Spring & summer letters")


@pytest.fixture
def ann(news):
    return audience.add_subscriber(
        "ann@example.com", name="Ann Lee", lists=[news], attributes={"city": "Lisbon"}
    )


@pytest.fixture
def send(news, ann):
    """send(name, days_ago=1, lists=None, **fields): a campaign that finished that long ago."""

    def make(name: str, days_ago: float = 1, lists=None, status="finished", **fields):
        values = {
            "subject": f"{name} for {{{{ subscriber.first_name }}}}",
            "body": BODY,
            "from_email": "news@example.org",
            "in_archive": True,
            "track_opens": True,
            "track_clicks": True,
            **fields,
        }
        campaign = services.create_campaign(name=name, lists=lists or [news], **values)
        at = timezone.now() - timedelta(days=days_ago)
        Campaign.objects.filter(pk=campaign.pk).update(
            status=status, started_at=at, finished_at=at if status == "finished" else None
        )
        campaign.refresh_from_db()
        return campaign

    return make
