"""A template over budget fails its rows, then pauses: it cannot starve a neighbour."""

import time

import pytest

from postroom.campaigns.models import Campaign
from postroom.delivery import control
from postroom.delivery.models import CampaignEvent, Delivery
from postroom.delivery.worker import DeliveryWorker
from tests.campaigns.test_budget_on_save import HOSTILE
from tests.delivery.helpers import make_audience, make_campaign

pytestmark = pytest.mark.django_db(transaction=True)
State = Delivery.State


def _cpu_until_finished(worker: DeliveryWorker, campaign: Campaign, timeout: float = 300) -> float:
    """Thread CPU seconds the worker spends until `campaign` finishes (the outbox runs inline)."""
    started, deadline = time.thread_time(), time.time() + timeout
    while time.time() < deadline:
        if not worker.process_one_batch():
            worker.maintain(force=True)
        campaign.refresh_from_db(fields=["status"])
        if campaign.status == Campaign.Status.FINISHED:
            return time.thread_time() - started
    raise AssertionError(f"{campaign} did not finish in {timeout} s")


def test_a_data_dependent_bomb_fails_its_rows_with_the_reason_then_pauses(settings):
    settings.POSTROOM_TEMPLATE_PAUSE_AFTER = 3
    audience = make_audience(40, "everyone")
    hostile = make_campaign(audience, name="Hostile", body=HOSTILE)
    control.start(hostile)
    worker = DeliveryWorker()
    for _ in range(20):
        worker.process_one_batch()
    hostile.refresh_from_db()
    assert hostile.status == Campaign.Status.PAUSED
    assert "3 messages went over the template budget" in hostile.status_reason
    assert "took longer than 100 ms to render" in hostile.status_reason
    failed = Delivery.objects.filter(campaign=hostile, state=State.FAILED)
    assert failed.count() == 3
    assert all("took longer than 100 ms to render" in row.error for row in failed)
    # The rest were given back untouched, for after the template is fixed.
    assert Delivery.objects.filter(campaign=hostile, state=State.PENDING).count() == 37
    assert CampaignEvent.objects.filter(
        campaign=hostile, kind=CampaignEvent.Kind.AUTO_PAUSED
    ).exists()
    worker.close()


def test_one_row_over_budget_fails_alone_and_the_campaign_goes_on():
    audience = make_audience(30, "everyone")
    sly = "Hi {% if subscriber.email == 'user7@example.net' %}{{ 'x' * 3000000 }}{% endif %}"
    campaign = make_campaign(audience, name="Mostly fine", body=sly)
    control.start(campaign)
    worker = DeliveryWorker()
    _cpu_until_finished(worker, campaign)
    failed = dict(
        Delivery.objects.filter(campaign=campaign, state=State.FAILED).values_list("email", "error")
    )
    assert list(failed) == ["user7@example.net"]
    assert "output is too large: larger than 2 MB" in failed["user7@example.net"]
    assert Delivery.objects.filter(campaign=campaign, state=State.SENT).count() == 29
    worker.close()


def test_a_hostile_campaign_leaves_its_neighbour_at_least_90_percent_of_its_rate(settings):
    """Rate = the neighbour's messages per worker CPU-second (the machine is shared and
    noisy; CPU time is what a hostile template takes from the neighbour).

    A hostile campaign costs a worker at most PAUSE_AFTER renders of TIME_MS each
    (then it pauses): with the defaults, 3 x 100 ms, which a neighbour needing 3 s
    of CPU or more does not notice beyond 10%. The test keeps that proportion at a
    tenth of the size: 3 x 10 ms against a neighbour of ~1 s of CPU (which also
    pays for everything else a second campaign costs: its compile, the pause, the alert).
    """
    settings.POSTROOM_TEMPLATE_TIME_MS = 10
    settings.POSTROOM_TEMPLATE_PAUSE_AFTER = 3
    size = 2500
    audience = make_audience(size, "neighbours")
    victims = make_audience(200, "victims", domain="example.com")

    worker = DeliveryWorker()
    warm_up = make_campaign(victims, name="Warm-up")  # imports, caches, first compile
    control.start(warm_up)
    _cpu_until_finished(worker, warm_up)
    # Runs in the order alone, beside, beside, alone, added up: each run leaves the
    # tables bigger and the next one a little slower, and this order cancels that drift.
    cpu = {"alone": 0.0, "beside": 0.0}
    for run, kind in enumerate(["alone", "beside", "beside", "alone"]):
        neighbour = make_campaign(audience, name=f"Neighbour {run} ({kind})")
        if kind == "beside":
            hostile = make_campaign(victims, name=f"Hostile {run}", body=HOSTILE)
            control.start(hostile)
        control.start(neighbour)
        cpu[kind] += _cpu_until_finished(worker, neighbour)
        assert Delivery.objects.filter(campaign=neighbour, state=State.SENT).count() == size
        if kind == "beside":
            hostile.refresh_from_db()
            assert hostile.status == Campaign.Status.PAUSED, hostile.status_reason
    worker.close()

    cpu_alone, cpu_beside = cpu["alone"], cpu["beside"]
    ratio = (size / cpu_beside) / (size / cpu_alone)
    print(f"alone {cpu_alone:.2f} s CPU, beside the hostile one {cpu_beside:.2f} s: {ratio:.2f}")
    assert ratio >= 0.9, f"the neighbour kept only {ratio:.0%} of its rate"
