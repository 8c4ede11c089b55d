"""/metrics: off without a token, bearer-protected, figures read from the database."""

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from postroom.audience.models import MailingList
from postroom.campaigns import services
from postroom.campaigns.models import Campaign
from postroom.delivery.models import Delivery, Sender, Worker
from postroom.imports.models import Import

TOKEN = "s3cret-metrics-token"


@pytest.fixture
def metrics_on(settings):
    settings.POSTROOM_METRICS_TOKEN = TOKEN


def scrape(client, token: str | None = TOKEN):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token is not None else {}
    return client.get("/metrics", **headers)


def samples(response) -> dict[tuple[str, tuple], float]:
    """{(name, sorted labels): value} of every sample in the exposition."""
    text = response.content.decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.mark.django_db
def test_the_page_does_not_exist_without_a_configured_token(client, settings):
    settings.POSTROOM_METRICS_TOKEN = ""
    assert scrape(client).status_code == 404
    assert scrape(client, None).status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize(
    "header",
    [None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer", TOKEN],
)
def test_a_missing_or_wrong_token_gets_401(client, metrics_on, header):
    extra = {"HTTP_AUTHORIZATION": header} if header is not None else {}
    response = client.get("/metrics", **extra)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"postroom_" not in response.content


@pytest.mark.django_db
def test_an_empty_installation_reports_zeros(client, metrics_on):
    response = scrape(client)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    figures = samples(response)
    assert figures[("postroom_campaigns", (("status", "running"),))] == 0
    assert figures[("postroom_workers_live", ())] == 0
    assert figures[("postroom_imports_pending", (("status", "queued"),))] == 0
    assert figures[("postroom_sender_sent_last_minute", (("sender", "outbox"),))] == 0
    assert not any(name == "postroom_deliveries" for name, _ in figures)


def campaign(name: str, status: str, lists) -> Campaign:
    made = services.create_campaign(
        name=name, subject="S", body="Hi", lists=lists, from_email="n@example.org"
    )
    Campaign.objects.filter(pk=made.pk).update(status=status)
    return made


def deliveries(campaign: Campaign, state: str, n: int, **fields) -> None:
    start = Delivery.objects.filter(campaign=campaign).count()
    Delivery.objects.bulk_create(
        Delivery(campaign=campaign, email=f"r{start + i}@example.com", state=state, **fields)
        for i in range(n)
    )


@pytest.mark.django_db
def test_it_reports_what_is_sending_right_now(client, metrics_on):
    lists = [MailingList.objects.create(name="News")]
    now = timezone.now()
    relay = Sender.objects.create(name="relay", host="127.0.0.1", port=25, tls="none")
    Sender.objects.create(name="idle", host="127.0.0.1", port=26, tls="none")
    spring = campaign("Spring", "running", lists)
    deliveries(spring, "pending", 3)
    deliveries(spring, "sent", 2, sent_at=now - timedelta(seconds=10), sender=relay)
    deliveries(spring, "sent", 4, sent_at=now - timedelta(minutes=5), sender=relay)
    deliveries(spring, "failed", 1)
    summer = campaign("Summer", "paused", lists)
    deliveries(summer, "pending", 7)
    deliveries(summer, "sent", 1, sent_at=now - timedelta(seconds=30))  # the outbox
    campaign("Draft", "draft", lists)
    Worker.objects.create(id="h:1:a", host="h", pid=1, last_seen=now)
    Worker.objects.create(id="h:2:b", host="h", pid=2, last_seen=now - timedelta(hours=1))
    for status in ("queued", "queued", "running", "finished"):
        Import.objects.create(file_name="f.csv", file_path="/tmp/f.csv", status=status)

    figures = samples(scrape(client))

    assert figures[("postroom_campaigns", (("status", "running"),))] == 1
    assert figures[("postroom_campaigns", (("status", "paused"),))] == 1
    assert figures[("postroom_campaigns", (("status", "draft"),))] == 1
    assert figures[("postroom_campaigns", (("status", "finished"),))] == 0

    def ledger(state: str, who: Campaign = spring):
        labels = (("campaign", who.name), ("campaign_id", str(who.pk)), ("state", state))
        return figures.get(("postroom_deliveries", labels))

    assert (ledger("pending"), ledger("sent"), ledger("failed"), ledger("in_doubt")) == (3, 6, 1, 0)
    assert ledger("pending", summer) is None  # only running campaigns
    assert figures[("postroom_workers_live", ())] == 1
    assert figures[("postroom_imports_pending", (("status", "queued"),))] == 2
    assert figures[("postroom_imports_pending", (("status", "running"),))] == 1
    sent = {
        dict(labels)["sender"]: value
        for (name, labels), value in figures.items()
        if name == "postroom_sender_sent_last_minute"
    }
    assert sent == {"relay": 2, "idle": 0, "outbox": 1}


@pytest.mark.django_db
def test_openmetrics_is_served_when_the_scraper_asks_for_it(client, metrics_on):
    accept = "application/openmetrics-text; version=1.0.0,text/plain;version=0.0.4;q=0.5"
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}", HTTP_ACCEPT=accept)
    assert response["Content-Type"].startswith("application/openmetrics-text")
    assert response.content.rstrip().endswith(b"# EOF")
    assert b"postroom_campaigns{" in response.content
