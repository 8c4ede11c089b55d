"""Statistics over time: buckets in the reader's zone (DST nights, half-hour offsets),
people only, each figure from its own rows, and one campaign kept apart from others."""

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from postroom.campaigns.models import Campaign, TrackedLink
from postroom.delivery import control
from postroom.delivery.models import Delivery
from postroom.errors import InvalidInput
from postroom.tracking import clickmap, timeseries
from postroom.tracking.models import Bounce, EngagementEvent, UnsubscribeEvent
from postroom.tracking.timeseries import DAY, HOUR, Scope
from tests.delivery.helpers import make_audience, make_campaign

BERLIN = ZoneInfo("Europe/Berlin")
KOLKATA = ZoneInfo("Asia/Kolkata")
TOKYO = ZoneInfo("Asia/Tokyo")


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def started(db):
    """A campaign to 6 people, started, with its ledger built."""
    news = make_audience(6)
    campaign = make_campaign(news, name="Autumn")
    control.start(campaign)
    return begun(campaign)


def begun(campaign: Campaign) -> Campaign:
    """Started long before the times the tests send at (a ledger row is sent after the start)."""
    Campaign.objects.filter(pk=campaign.pk).update(started_at=utc(2026, 3, 1))
    campaign.refresh_from_db()
    return campaign


def sent_at(campaign: Campaign, *times: datetime) -> None:
    rows = list(Delivery.objects.filter(campaign=campaign).order_by("id"))
    for row, when in zip(rows, times, strict=False):
        Delivery.objects.filter(pk=row.pk).update(state=Delivery.State.SENT, sent_at=when)


def event(campaign: Campaign, kind: str, at: datetime, machine: str = "", n: int = 1) -> None:
    subscriber_ids = list(
        Delivery.objects.filter(campaign=campaign).values_list("subscriber_id", flat=True)
    )
    for i in range(n):
        EngagementEvent.objects.create(
            campaign=campaign,
            subscriber_id=subscriber_ids[i % len(subscriber_ids)],
            kind=kind,
            at=at,
            machine=machine,
        )


def test_the_hour_that_repeats_when_clocks_go_back_is_two_buckets(started):
    # 25 Oct 2026: 03:00 CEST (01:00 UTC) becomes 02:00 CET. 00:30Z and 01:30Z are both "02:30".
    sent_at(started, utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 30), utc(2026, 10, 25, 1, 40))
    found = timeseries.series(
        Scope.of_campaign(started), utc(2026, 10, 24, 23), utc(2026, 10, 25, 3), HOUR, BERLIN
    )
    labels = [s.strftime("%H:%M %Z") for s in found.starts]
    assert labels == ["01:00 CEST", "02:00 CEST", "02:00 CET", "03:00 CET"]
    assert found.values["sent"] == [0, 1, 2, 0]


def test_the_hour_skipped_in_spring_has_no_bucket(started):
    # 29 Mar 2026: 02:00 CET (01:00 UTC) becomes 03:00 CEST.
    sent_at(started, utc(2026, 3, 29, 0, 59), utc(2026, 3, 29, 1, 0))
    found = timeseries.series(
        Scope.of_campaign(started), utc(2026, 3, 28, 23), utc(2026, 3, 29, 2), HOUR, BERLIN
    )
    assert [s.strftime("%H:%M") for s in found.starts] == ["00:00", "01:00", "03:00"]
    assert found.values["sent"] == [0, 1, 1]


def test_a_day_at_a_dst_change_is_one_local_day_of_25_hours(started):
    # 22:30Z on the 24th is 00:30 on the 25th in Berlin (CEST); 22:30Z on the 25th is 23:30 CET.
    sent_at(
        started,
        utc(2026, 10, 24, 21, 59),  # 23:59 on the 24th
        utc(2026, 10, 24, 22, 30),
        utc(2026, 10, 25, 22, 30),
        utc(2026, 10, 25, 23, 0),  # midnight CET: the 26th
    )
    found = timeseries.series(
        Scope.of_campaign(started), utc(2026, 10, 24, 10), utc(2026, 10, 26, 10), DAY, BERLIN
    )
    assert [s.date() for s in found.starts] == [
        date(2026, 10, 24),
        date(2026, 10, 25),
        date(2026, 10, 26),
    ]
    assert found.values["sent"] == [1, 2, 1]


def test_days_follow_the_readers_zone_not_utc(started):
    # 16:00Z is 01:00 the next day in Tokyo.
    sent_at(started, utc(2026, 12, 1, 14), utc(2026, 12, 1, 16))
    start, end = utc(2026, 12, 1, 0), utc(2026, 12, 2, 0)
    in_utc = timeseries.series(Scope.of_campaign(started), start, end, DAY, UTC)
    in_tokyo = timeseries.series(Scope.of_campaign(started), start, end, DAY, TOKYO)
    assert in_utc.values["sent"] == [2]
    assert [s.day for s in in_tokyo.starts] == [1, 2]
    assert in_tokyo.values["sent"] == [1, 1]


def test_hours_of_a_half_hour_zone_start_at_its_own_full_hours(started):
    # India is UTC+5:30: 04:45Z is 10:15 IST, in the hour from 10:00 IST (04:30Z).
    sent_at(started, utc(2026, 12, 1, 4, 29), utc(2026, 12, 1, 4, 45), utc(2026, 12, 1, 5, 29))
    found = timeseries.series(
        Scope.of_campaign(started), utc(2026, 12, 1, 4), utc(2026, 12, 1, 6), HOUR, KOLKATA
    )
    assert [s.strftime("%H:%M") for s in found.starts] == ["09:00", "10:00", "11:00"]
    assert found.starts[1].astimezone(UTC) == utc(2026, 12, 1, 4, 30)
    assert found.values["sent"] == [1, 2, 0]


def test_machine_opens_and_clicks_are_left_out(started):
    at = utc(2026, 12, 1, 9, 10)
    event(started, "open", at, n=3)
    event(started, "open", at, machine="apple-mpp", n=5)
    event(started, "click", at, n=2)
    event(started, "click", at, machine="scanner", n=4)
    found = timeseries.series(
        Scope.of_campaign(started), utc(2026, 12, 1, 9), utc(2026, 12, 1, 10), HOUR, UTC
    )
    assert found.values["opens"] == [3]
    assert found.values["clicks"] == [2]


def test_each_figure_counts_its_own_rows(started):
    at = utc(2026, 12, 2, 8, 5)
    sent_at(started, at, at)
    for i, kind in enumerate(("hard", "soft", "complaint")):
        Bounce.objects.create(
            email=f"b{i}@example.net", kind=kind, campaign=started, fingerprint=f"f{i}", at=at
        )
    UnsubscribeEvent.objects.create(campaign=started, method="link", at=at)
    found = timeseries.series(
        Scope.of_campaign(started), utc(2026, 12, 2), utc(2026, 12, 3), DAY, UTC
    )
    assert found.totals == {
        "sent": 2, "opens": 0, "clicks": 0, "bounces": 2, "complaints": 1, "unsubscribes": 1,
    }  # fmt: skip


def test_one_campaigns_series_leaves_out_another_and_overall_holds_both(started):
    other = make_campaign(make_audience(2, list_name="other"), name="Other")
    control.start(other)
    begun(other)
    at = utc(2026, 12, 2, 8, 5)
    sent_at(started, at)
    sent_at(other, at, at)
    window = (utc(2026, 12, 2), utc(2026, 12, 3), DAY, UTC)
    assert timeseries.series(Scope.of_campaign(started), *window).totals["sent"] == 1
    everything = Scope.overall(Campaign.objects.all(), unattached=True)
    assert timeseries.series(everything, *window).totals["sent"] == 3
    only_other = Scope.overall(Campaign.objects.filter(pk=other.pk), unattached=False)
    assert timeseries.series(only_other, *window).totals["sent"] == 2


def test_unattached_bounces_count_only_for_whoever_sees_every_list(started):
    at = utc(2026, 12, 2, 8, 5)
    Bounce.objects.create(email="x@example.net", kind="hard", fingerprint="x", at=at)
    window = (utc(2026, 12, 2), utc(2026, 12, 3), DAY, UTC)
    every = Scope.overall(Campaign.objects.all(), unattached=True)
    some = Scope.overall(Campaign.objects.all(), unattached=False)
    assert timeseries.series(every, *window).totals["bounces"] == 1
    assert timeseries.series(some, *window).totals["bounces"] == 0


def test_a_window_too_long_or_reversed_is_refused_in_one_line():
    start = utc(2026, 1, 1)
    with pytest.raises(InvalidInput, match="per hour covers at most 31 days"):
        timeseries.check_window(start, start + timedelta(days=32), HOUR)
    with pytest.raises(InvalidInput, match="must come after"):
        timeseries.check_window(start, start, DAY)
    with pytest.raises(InvalidInput, match="bucket must be"):
        timeseries.choose_bucket("minute", start, start + timedelta(days=1))


def test_automatic_buckets_are_hours_for_a_short_span_and_days_beyond():
    start = utc(2026, 1, 1)
    assert timeseries.choose_bucket("auto", start, start + timedelta(days=2)) == HOUR
    assert timeseries.choose_bucket(None, start, start + timedelta(days=10)) == DAY


def test_a_campaign_window_runs_from_its_start_and_per_hour_is_cut_at_31_days(started):
    start = utc(2026, 11, 1, 9)
    Campaign.objects.filter(pk=started.pk).update(started_at=start)
    started.refresh_from_db()
    now = start + timedelta(days=40)
    lo, hi, bucket, cut = timeseries.campaign_window(started, now, "hour")
    assert (lo, hi, bucket, cut) == (start, start + timedelta(days=31), HOUR, True)
    assert timeseries.campaign_window(started, now, None)[2:] == (DAY, False)


def test_the_click_map_lists_every_link_with_peoples_clicks_and_marks_the_html(started):
    Campaign.objects.filter(pk=started.pk).update(
        body="[Spring](https://example.com/spring) and [Shop](https://example.com/shop)"
    )
    started.refresh_from_db()
    spring = TrackedLink.objects.create(
        campaign=started, number=0, url="https://example.com/spring"
    )
    TrackedLink.objects.create(campaign=started, number=1, url="https://example.com/shop")
    ids = list(Delivery.objects.filter(campaign=started).values_list("subscriber_id", flat=True))
    for sid in (ids[0], ids[0], ids[1]):
        EngagementEvent.objects.create(
            campaign=started, subscriber_id=sid, kind="click", link=spring
        )
    EngagementEvent.objects.create(
        campaign=started, subscriber_id=ids[2], kind="click", link=spring, machine="scanner"
    )
    rows = clickmap.link_clicks(started)
    assert [(r["url"], r["clicks"], r["people"], r["share"]) for r in rows] == [
        ("https://example.com/spring", 3, 2, 100.0),
        ("https://example.com/shop", 0, 0, 0.0),
    ]
    assert clickmap.clickers(started) == 2
    html = clickmap.annotated_html(started, rows)
    assert re.search(
        r'href="https://example.com/spring"[^>]*>Spring</a><span data-clicks="3"', html
    )
    assert "3 clicks · 2 people" in html
    assert 'data-clicks="0"' in html
