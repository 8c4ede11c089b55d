"""The statistics pages and the time series API: who may see what, charts a screen reader
can name with the same figures as a table, the reader's time zone, the campaigns list."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from postroom.accounts import services as accounts
from postroom.accounts.models import Profile, Role
from postroom.campaigns.models import Campaign
from postroom.delivery import control
from postroom.delivery.models import Delivery
from postroom.tracking.models import Bounce, EngagementEvent, UnsubscribeEvent
from tests.delivery.helpers import make_audience, make_campaign

pytestmark = pytest.mark.django_db


def _sent_campaign(list_name: str, name: str, sent: int, opens: int, when):
    news = make_audience(4, list_name=list_name)
    campaign = make_campaign(news, name=name)
    control.start(campaign)
    Campaign.objects.filter(pk=campaign.pk).update(started_at=when - timedelta(hours=1))
    rows = list(Delivery.objects.filter(campaign=campaign).order_by("id")[:sent])
    for row in rows:
        Delivery.objects.filter(pk=row.pk).update(state=Delivery.State.SENT, sent_at=when)
    for row in rows[:opens]:
        EngagementEvent.objects.create(
            campaign=campaign, subscriber_id=row.subscriber_id, kind="open", at=when
        )
    EngagementEvent.objects.create(
        campaign=campaign, subscriber_id=rows[0].subscriber_id, kind="open", at=when,
        machine="apple-mpp",
    )  # fmt: skip
    campaign.refresh_from_db()
    return campaign


@pytest.fixture
def two(db):
    """'Ours news' (3 sent, 2 opens, a click, a bounce, an unsubscribe) and 'Theirs news'."""
    when = timezone.now() - timedelta(hours=5)
    ours = _sent_campaign("Ours", "Ours news", 3, 2, when)
    first = Delivery.objects.filter(campaign=ours, state="sent").first()
    EngagementEvent.objects.create(
        campaign=ours, subscriber_id=first.subscriber_id, kind="click", at=when
    )
    Bounce.objects.create(
        email="b@example.net", kind="hard", campaign=ours, fingerprint="b", at=when
    )
    UnsubscribeEvent.objects.create(campaign=ours, method="link", at=when)
    theirs = _sent_campaign("Theirs", "Theirs news", 4, 1, when)
    return ours, theirs


def _user(django_user_model, name: str, role: Role):
    user = django_user_model.objects.create_user(name, f"{name}@example.org", "pw", is_staff=True)
    Profile.objects.create(user=user, role=role)
    return user


def _table_totals(html: str) -> list[str]:
    foot = re.search(r"<tfoot>(.*?)</tfoot>", html, re.S).group(1)
    return re.findall(r"<strong>([\d,]+)</strong>", foot)


def test_a_viewer_sees_every_campaigns_figures_per_hour_people_only(client, two, django_user_model):
    client.force_login(_user(django_user_model, "vi", Role.VIEWER))
    page = client.get(reverse("statistics"), {"days": "1"})
    assert page.status_code == 200
    html = page.content.decode()
    # sent, opens (the machine's left out), clicks, bounces, complaints, unsubscribes
    assert _table_totals(html) == ["7", "3", "1", "1", "0", "1"]
    assert html.count('role="img"') == 3
    assert re.search(
        r'<title id="all-sent-title">Sent</title><desc id="all-sent-desc">Per hour', html
    )


def test_the_buckets_follow_the_readers_time_zone_cookie(owner_client, two):
    owner_client.cookies["tz"] = "Asia/Tokyo"
    html = owner_client.get(reverse("campaign_statistics", args=[two[0].pk])).content.decode()
    assert "in your time zone (Asia/Tokyo)" in html
    assert "JST" in html


def test_a_campaigns_page_shows_its_own_figures_and_click_map(owner_client, two):
    ours, _ = two
    html = owner_client.get(reverse("campaign_statistics", args=[ours.pk])).content.decode()
    assert _table_totals(html) == ["3", "2", "1", "1", "0", "1"]
    assert 'id="click-map"' in html


def test_someone_granted_some_lists_sees_only_their_campaigns(client, two, django_user_model):
    ours, theirs = two
    _user(django_user_model, "ed", Role.EDITOR)
    accounts.set_lists("ed", ["Ours"])
    client.force_login(django_user_model.objects.get(username="ed"))
    html = client.get(reverse("statistics"), {"days": "1"}).content.decode()
    assert _table_totals(html)[:2] == ["3", "2"]
    assert client.get(reverse("campaign_statistics", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("campaign_statistics", args=[ours.pk])).status_code == 200


def test_the_pages_are_for_operators_only(client, outsider, two):
    url = reverse("campaign_statistics", args=[two[0].pk])
    assert client.get(reverse("statistics")).status_code == 302
    client.force_login(outsider)
    assert client.get(url).status_code == 403


def test_a_campaign_not_started_has_nothing_to_chart(owner_client, db):
    draft = make_campaign(make_audience(1), name="Draft")
    html = owner_client.get(reverse("campaign_statistics", args=[draft.pk])).content.decode()
    assert "has not started" in html


def test_per_hour_over_a_year_says_why_and_shows_days(owner_client, two):
    html = owner_client.get(reverse("statistics"), {"days": "365", "bucket": "hour"}).content
    assert b"Per hour covers at most 31 days: shown per day instead." in html


def test_the_campaigns_list_has_clicks_bounces_and_unsubscribes(owner_client, two):
    html = owner_client.get(reverse("campaigns")).content.decode()
    row = re.search(r"Ours news.*?</tr>", html, re.S).group()
    cells = dict(re.findall(r'data-label="(\w+)" class="num">([^<]*)', row))
    assert {k: v.strip() for k, v in cells.items()} == {
        "Sent": "3", "Opens": "2", "Clicks": "1", "Bounces": "1", "Unsubscribes": "1",
    }  # fmt: skip


# --- the API ------------------------------------------------------------------------------


def test_the_api_gives_a_campaigns_series_in_the_zone_asked(api, two):
    ours, _ = two
    answer = api.get(
        f"/api/campaigns/{ours.pk}/timeseries", {"bucket": "hour", "tz": "Asia/Kolkata"}
    )
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["bucket"] == "hour" and body["tz"] == "Asia/Kolkata"
    assert body["totals"]["sent"] == 3 and body["totals"]["opens"] == 2
    assert body["points"][0]["start"].endswith("+05:30")
    assert sum(p["sent"] for p in body["points"]) == 3


def test_the_api_overall_series_counts_what_the_token_may_see(token_for, two):
    ours, _ = two
    everything = token_for(Role.VIEWER).get("/api/campaigns/timeseries").json()
    assert everything["bucket"] == "day" and everything["totals"]["sent"] == 7
    narrow = token_for(Role.OWNER, lists=[ours.lists.first()])
    assert narrow.get("/api/campaigns/timeseries").json()["totals"]["sent"] == 3


def test_the_api_refuses_what_it_cannot_answer(token_for, two):
    ours, theirs = two
    viewer = token_for(Role.VIEWER)
    bad_zone = viewer.get(f"/api/campaigns/{ours.pk}/timeseries", {"tz": "Mars/Olympus"})
    assert bad_zone.status_code == 400 and "not a time zone" in bad_zone.json()["detail"]
    assert viewer.get(f"/api/campaigns/{ours.pk}/timeseries", {"bucket": "week"}).status_code == 422
    long = viewer.get("/api/campaigns/timeseries", {"bucket": "hour", "start": "2026-01-01T00:00Z"})
    assert long.status_code == 400 and "31 days" in long.json()["detail"]
    narrow = token_for(Role.OWNER, lists=[ours.lists.first()])
    assert narrow.get(f"/api/campaigns/{theirs.pk}/timeseries").status_code == 404
    audience_only = token_for(Role.OWNER, scopes=["subscribers"])
    assert audience_only.get("/api/campaigns/timeseries").status_code == 403
    assert token_for(Role.VIEWER).client.post("/api/campaigns/timeseries").status_code == 405
