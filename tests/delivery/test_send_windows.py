"""Send windows in the engine: only readers whose window is open now are claimed, the rest
wait (running, not stalled) and go when their window opens; the ETA follows the window.

The clock is controlled by choosing the readers' zones: `Etc/GMT±N` zones where it is
06:xx now (inside a 00:00-12:00 window, hours from either edge) and 18:xx now (outside),
so the real clock of a worker subprocess gives a known answer.
"""

from datetime import UTC, datetime, time, timedelta

import pytest
from django.utils import timezone

from postroom.audience.models import Subscriber
from postroom.campaigns.models import Campaign
from postroom.delivery import control, progress, ratelimit, sendwindows
from postroom.delivery.eta import campaign_eta
from postroom.delivery.models import CampaignRun, Delivery
from postroom.testing.smtpserver import CaptureServer
from tests.delivery.helpers import make_audience, make_campaign, run_until_idle, smtp_sender
from tests.delivery.processes import start_worker, wait_for
from tests.delivery.test_outages import received, status

pytestmark = pytest.mark.django_db(transaction=True)

MORNING = time(0), time(12)  # the window: open where it is 06:xx now, closed at 18:xx


def zone_at(hour: int, now: datetime | None = None) -> str:
    """An `Etc/GMT±N` zone whose wall clock shows `hour`:MM now."""
    now = now or datetime.now(UTC)
    offset = (hour - now.hour) % 24
    if offset > 14:
        offset -= 24
    if offset == 0:
        return "Etc/GMT"
    return f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"  # Etc signs are reversed


def audience_in(zones: dict[str, int]):
    """A list whose subscribers carry these `timezone` attributes, so many each."""
    mailing_list = make_audience(sum(zones.values()))
    people = iter(Subscriber.objects.order_by("id"))
    for zone, count in zones.items():
        for _ in range(count):
            person = next(people)
            person.attributes = {**person.attributes, "timezone": zone} if zone else {}
            person.save(update_fields=["attributes"])
    return mailing_list


def pending_by_zone(campaign: Campaign) -> dict[str, int]:
    counts: dict[str, int] = {}
    for zone in campaign.deliveries.filter(state=Delivery.State.PENDING).values_list(
        "zone", flat=True
    ):
        counts[zone] = counts.get(zone, 0) + 1
    return counts


def test_only_readers_whose_window_is_open_are_sent_the_rest_wait_for_theirs():
    day, night = zone_at(6), zone_at(18)
    # No zone and a wrong one follow the campaign's zone (night here).
    news = audience_in({day: 4, night: 3, "": 2, "Mars/Olympus": 1})
    campaign = make_campaign(
        news, window_start=MORNING[0], window_end=MORNING[1], window_timezone=night
    )
    control.start(campaign)
    assert CampaignRun.objects.get(campaign=campaign).zones == sorted({day, night, "Mars/Olympus"})

    run_until_idle()

    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.RUNNING
    assert campaign.deliveries.filter(state=Delivery.State.SENT).count() == 4
    assert set(campaign.deliveries.filter(state="sent").values_list("zone", flat=True)) == {day}
    assert pending_by_zone(campaign) == {night: 5, "Mars/Olympus": 1}
    summary = progress.summary(campaign)
    window = summary["window"]
    assert window["waiting"] is True and window["hours"] == "00:00-12:00"
    assert window["timezone"] == night and window["open_zones"] == 1
    # Midnight in the night zone: between 5 and 6 hours from now.
    opens = datetime.fromisoformat(window["next_opening"])
    assert timedelta(hours=5) < opens - timezone.now() <= timedelta(hours=6)
    assert summary["stalled"] is None
    assert sendwindows.waiting_text(window).startswith("waiting for its send window (00:00-12:00")

    # The window opens for everyone (an edit as a test shortcut): the rest go, once each.
    Campaign.objects.filter(pk=campaign.pk).update(window_start=time(0), window_end=time(23, 59))
    run_until_idle()
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.FINISHED
    assert campaign.deliveries.filter(state=Delivery.State.SENT).count() == 10


def test_a_campaign_without_a_window_keeps_an_empty_zone_and_sends_everyone():
    news = audience_in({zone_at(18): 3})
    campaign = make_campaign(news)
    control.start(campaign)
    assert set(campaign.deliveries.values_list("zone", flat=True)) == {""}
    assert CampaignRun.objects.get(campaign=campaign).zones == []
    run_until_idle()
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.FINISHED
    assert progress.summary(campaign)["window"] is None


def test_the_eta_of_a_waiting_campaign_starts_at_its_window_and_counts_only_open_hours():
    server_like = smtp_sender(type("Server", (), {"host": "127.0.0.1", "port": 1})())
    ratelimit.set_limits(server_like, ["3600/hour"])  # 1/s
    night = zone_at(18)
    news = audience_in({night: 7000})  # an hour at 1/s, and 3400 s
    campaign = make_campaign(news, sender=server_like, window_start=MORNING[0], window_end=time(1))
    control.start(campaign)
    eta = campaign_eta(campaign, measured_rate=0.0)
    assert eta is not None
    opens = datetime.fromisoformat(progress.summary(campaign)["window"]["next_opening"])
    # One hour a night: 3,600 tonight, the last 3,400 the night after.
    assert abs((eta - (opens + timedelta(days=1, seconds=3400))).total_seconds()) < 5


def test_a_real_worker_sends_only_the_open_zone_over_smtp_then_the_rest_once_it_opens(
    subprocess_env,
):
    day, night = zone_at(6), zone_at(18)
    server = CaptureServer()
    server.start()
    worker = None
    try:
        news = audience_in({day: 30, night: 20})
        campaign = make_campaign(
            news, sender=smtp_sender(server), window_start=MORNING[0], window_end=MORNING[1]
        )
        control.start(campaign)
        worker = start_worker(subprocess_env)
        assert wait_for(lambda: len(server.messages) >= 30, 60)
        # The worker goes on looking but claims nobody else: the night zone waits.
        assert wait_for(
            lambda: progress.summary(Campaign.objects.get(pk=campaign.pk))["window"]["waiting"],
            20,
        )
        time_waited = timezone.now()
        assert wait_for(lambda: timezone.now() - time_waited > timedelta(seconds=3), 5)
        assert len(server.messages) == 30
        day_people = set(campaign.deliveries.filter(zone=day).values_list("email", flat=True))
        assert set(received(server)) == day_people
        assert status(campaign) == Campaign.Status.RUNNING
        assert progress.summary(Campaign.objects.get(pk=campaign.pk))["stalled"] is None

        # The night zone's window opens (moved here so the test need not wait hours).
        Campaign.objects.filter(pk=campaign.pk).update(
            window_end=time(23, 59), window_start=time(0)
        )
        assert wait_for(lambda: status(campaign) == Campaign.Status.FINISHED, 60)
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(20)
        server.stop()
    counts = received(server)
    assert len(counts) == 50 and set(counts.values()) == {1}
