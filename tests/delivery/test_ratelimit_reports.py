"""What the limits mean to people: ETA, the sender's capacity report, the pre-send check."""

import pytest

from postroom.audience import services as audience
from postroom.campaigns import services as campaigns
from postroom.campaigns.models import Campaign
from postroom.delivery import capacity, control, eta, precheck, progress, ratelimit
from postroom.delivery.models import Delivery, Sender


@pytest.fixture
def sender(db):
    sender = Sender.objects.create(name="provider", host="smtp.example.net", max_connections=2)
    ratelimit.set_limits(sender, ["35/hour"])
    return sender


def running(name: str, sender, recipients: int, priority: int = 1) -> Campaign:
    campaign = Campaign.objects.create(
        name=name,
        subject=name,
        from_email="news@postroom.dev",
        sender=sender,
        priority=priority,
        status=Campaign.Status.RUNNING,
    )
    Delivery.objects.bulk_create(
        Delivery(campaign=campaign, email=f"r{i}@{name}.dev") for i in range(recipients)
    )
    return campaign


def test_2100_recipients_at_35_an_hour_take_about_60_hours(sender):
    campaign = running("story", sender, 2100)
    finish = eta.campaign_eta(campaign, progress.rate(campaign), now=1_000_000.0)
    hours = (finish.timestamp() - 1_000_000.0) / 3600
    assert hours == pytest.approx(60, abs=0.1)


def test_the_eta_counts_the_campaigns_sharing_the_sender(sender):
    alone = running("alone", sender, 100)
    before = eta.campaign_eta(alone, progress.rate(alone), now=0.0)
    running("other", sender, 1000)
    shared = eta.campaign_eta(alone, progress.rate(alone), now=0.0)
    # Half the rate while both run: twice as long.
    assert shared.timestamp() == pytest.approx(2 * before.timestamp(), rel=0.01)


def test_sharing_ends_when_the_smaller_campaign_finishes():
    # 100 and 300 at 1 msg/s, equal weights: the first done at 200 s, the second at 400 s.
    assert eta.finish_in({1: (100, 1), 2: (300, 1)}, 1.0) == pytest.approx({1: 200, 2: 400})
    # Weights 3:1: the heavy one gets 3/4 of the rate.
    assert eta.finish_in({1: (300, 3), 2: (100, 1)}, 1.0) == pytest.approx({1: 400, 2: 400})


def test_a_paused_campaign_has_no_eta(sender):
    campaign = running("paused", sender, 10)
    campaign.status = Campaign.Status.PAUSED
    assert eta.campaign_eta(campaign, progress.rate(campaign)) is None


def test_an_unlimited_sender_follows_the_measured_rate(db):
    assert eta.estimate(None, 1000, measured_rate=100.0) == pytest.approx(10.0)
    assert eta.estimate(None, 1000, measured_rate=0.0) is None


def test_the_report_shows_limits_use_and_shares(sender):
    ratelimit.set_limits(sender, ["35/hour", "2/second"])
    first = running("first", sender, 50, priority=3)
    second = running("second", sender, 50)
    with ratelimit.locked(ratelimit.sender_key(sender.pk)):
        ratelimit.reserve(sender.pk, 2, "grant", now=1000.0)
    report = capacity.sender_report(sender, now=1000.5)
    hour = next(row for row in report["limits"] if row["rate"] == "35/hour")
    assert hour["used"] == 1 and hour["reserved_ahead"] == 1  # paced 103 s later
    shares = {c["id"]: c["share"] for c in report["campaigns"]}
    assert shares == {first.pk: 0.75, second.pk: 0.25}
    assert report["messages_per_hour"] == pytest.approx(35, abs=0.01)
    assert any("35/hour limit sets the pace" in w for w in report["warnings"])


def test_it_warns_when_connections_cannot_reach_the_rate(db):
    notes, warnings = capacity.explain_settings([(500, 1)], max_connections=2)
    assert any("raise the maximum connections" in w for w in warnings)
    notes, warnings = capacity.explain_settings([], max_connections=4)
    assert warnings == [] and "No rate limit" in notes[0]


@pytest.mark.parametrize(
    "domain, bad",
    [
        ("example.com", True),
        ("mail.example.org", True),
        ("shop.test", True),
        ("nowhere.invalid", True),
        ("localhost", True),
        ("gmail.com", False),
        ("bücher.de", False),
    ],
)
def test_it_knows_domains_that_cannot_receive_mail(domain, bad):
    assert bool(precheck.domain_problem(domain)) is bad


def test_the_precheck_summarises_a_campaign_before_it_starts(sender):
    one = audience.create_list("one")
    two = audience.create_list("two")
    audience.add_subscriber("ann@postroom.dev", lists=[one, two])
    audience.add_subscriber("bob@postroom.dev", lists=[one])
    audience.add_subscriber("cat@example.com", lists=[two])
    gone = audience.add_subscriber("dan@postroom.dev", lists=[one])
    audience.unsubscribe(gone, None, source="admin")
    campaign = campaigns.create_campaign(
        lists=[one, two],
        name="news",
        subject="Hi",
        body="Hello",
        sender=sender,
        from_email="news@postroom.dev",
    )
    data = precheck.precheck(campaign, now=0.0)
    assert data["recipients"] == 3
    assert data["duplicates"] == 1
    assert data["excluded"] == 1
    assert data["undeliverable"] == 1
    assert data["undeliverable_domains"][0]["domain"] == "example.com"
    assert data["duration_seconds"] == pytest.approx(3 * 3600 / 35, abs=2)
    assert data["template_problems"] == [] and data["ok"]
    text = precheck.summary_text(data)
    assert "Recipients: 3" in text and "35/hour" in text and "Expected to finish" in text
    assert campaign.status == Campaign.Status.DRAFT  # nothing changed


def test_the_precheck_reports_template_problems(sender):
    lst = audience.create_list("one")
    audience.add_subscriber("ann@postroom.dev", lists=[lst])
    campaign = campaigns.create_campaign(
        lists=[lst],
        name="news",
        subject="Hi",
        body="Hello",
        sender=sender,
        from_email="news@postroom.dev",
    )
    Campaign.objects.filter(pk=campaign.pk).update(body="Hello {{ name ")
    campaign.refresh_from_db()
    data = precheck.precheck(campaign)
    assert data["template_problems"] and not data["ok"]


def test_starting_after_the_precheck_gives_the_same_count(sender):
    lst = audience.create_list("one")
    for name in ("ann", "bob", "cat"):
        audience.add_subscriber(f"{name}@postroom.dev", lists=[lst])
    campaign = campaigns.create_campaign(
        lists=[lst],
        name="news",
        subject="Hi",
        body="Hello",
        sender=sender,
        from_email="news@postroom.dev",
    )
    assert precheck.precheck(campaign)["recipients"] == control.start(campaign) == 3


def test_the_capacity_and_precheck_panels_render_what_they_are_given(sender):
    from django.template.loader import render_to_string

    lst = audience.create_list("one")
    audience.add_subscriber("ann@postroom.dev", lists=[lst])
    audience.add_subscriber("bob@example.com", lists=[lst])
    campaign = campaigns.create_campaign(
        lists=[lst],
        name="news",
        subject="Hi",
        body="Hello",
        sender=sender,
        from_email="news@postroom.dev",
    )
    running("<script>other</script>", sender, 10, priority=2)
    html = render_to_string(
        "web/delivery/_precheck.html", {"precheck": precheck.precheck(campaign)}
    )
    assert "Recipients" in html and "example.com" in html and "35/hour" in html
    assert "shared with 1 running campaign" in html
    html = render_to_string(
        "web/delivery/_sender_capacity.html", {"capacity": capacity.sender_report(sender)}
    )
    assert "35/hour" in html and "100%" in html
    assert "&lt;script&gt;other" in html and "<script>" not in html


def test_the_sender_page_explains_its_capacity(owner_client, sender):
    from django.urls import reverse

    running("spring", sender, 20)
    page = owner_client.get(reverse("sender_edit", args=[sender.pk])).content.decode()
    assert "Capacity" in page and "35/hour" in page and "spring" in page
    assert "one every 102.9 s" in page


def test_the_start_panel_shows_the_pre_send_check(owner_client, sender):
    from django.urls import reverse

    lst = audience.create_list("one")
    audience.add_subscriber("ann@postroom.dev", lists=[lst])
    audience.add_subscriber("bob@example.com", lists=[lst])
    campaign = campaigns.create_campaign(
        lists=[lst], name="news", subject="Hi", body="Hello", sender=sender,
        from_email="news@postroom.dev",
    )  # fmt: skip
    page = owner_client.get(reverse("campaign_delivery_panel", args=[campaign.pk])).content
    page = page.decode()
    assert "Before you start" in page and "Start sending" in page
    assert "Cannot be delivered" in page and "example.com" in page
