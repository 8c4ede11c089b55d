"""Outages heal by themselves: a sender that cannot be reached makes its campaigns wait.

And a campaign pauses itself only on evidence that it is the problem: too many of
its own recipients failing for good, counted over the ledger across all workers.
"""

import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from postroom.campaigns.models import Campaign
from postroom.delivery import control, progress, ratelimit, scheduler, senders, waiting
from postroom.delivery.models import CampaignEvent, Delivery, Sender
from postroom.delivery.worker import DeliveryWorker
from postroom.testing.smtpserver import CaptureServer
from tests.delivery.helpers import (
    make_audience,
    make_campaign,
    run_until_settled,
    smtp_sender,
    states,
)
from tests.delivery.processes import start_worker, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def received(server) -> dict[str, int]:
    counts: dict[str, int] = {}
    for message in server.messages:
        for rcpt in message.rcpt_to:
            counts[rcpt] = counts.get(rcpt, 0) + 1
    return counts


def status(campaign: Campaign) -> str:
    return Campaign.objects.filter(pk=campaign.pk).values_list("status", flat=True).get()


class Watch(threading.Thread):
    """Samples the campaign while a test runs: every status and whether it showed waiting."""

    def __init__(self, campaign: Campaign) -> None:
        super().__init__(daemon=True)
        self.campaign = campaign
        self.statuses: set[str] = set()
        self.waits: list[dict] = []
        self.done = threading.Event()

    def run(self) -> None:
        from django.db import connection

        try:
            while not self.done.is_set():
                campaign = Campaign.objects.get(pk=self.campaign.pk)
                self.statuses.add(campaign.status)
                waits = progress.summary(campaign)["waiting"]
                if waits:
                    self.waits.append(waits)
                time.sleep(0.1)
        finally:
            connection.close()

    def stop(self) -> None:
        self.done.set()
        self.join(10)


def assert_everyone_once(campaign: Campaign, server, recipients: int, connections: int = 2):
    """Everyone sent got exactly one message; a hang-up mid-message may leave one row per
    connection in doubt (the server may have kept it): listed, never sent twice."""
    rows = states(campaign)
    counts = received(server)
    doubtful = [email for email, state in rows.items() if state == "in_doubt"]
    assert len(rows) == recipients and set(rows.values()) <= {"sent", "in_doubt"}
    assert len(doubtful) <= connections, doubtful
    assert all(counts.get(email) == 1 for email, state in rows.items() if state == "sent")
    assert all(counts.get(email, 0) <= 1 for email in doubtful)


def test_a_3_second_outage_mid_send_never_pauses_and_two_workers_carry_on_by_themselves(
    subprocess_env,
):
    recipients = 1000
    server = CaptureServer()
    server.start()
    workers = []
    try:
        sender = smtp_sender(server, max_connections=2)
        ratelimit.set_limits(sender, ["100/second"])
        campaign = make_campaign(make_audience(recipients), sender=sender)
        control.start(campaign)
        watch = Watch(campaign)
        watch.start()
        workers = [start_worker(subprocess_env) for _ in range(2)]

        assert wait_for(lambda: len(server.messages) >= 200, 120), "never got going"
        server.stop()  # the port refuses connections for 3 s
        went_away = time.time()
        assert wait_for(lambda: watch.waits, 30), "the campaign never showed it was waiting"
        time.sleep(max(0.0, went_away + 3 - time.time()))
        before = len(server.messages)
        server.start()  # same port
        back = time.time()
        assert wait_for(lambda: len(server.messages) > before, 60), "never sent again"
        again = min(m.received_at for m in server.messages[before:])
        assert wait_for(lambda: status(campaign) != Campaign.Status.RUNNING, 120)
        watch.stop()
    finally:
        for worker in workers:
            worker.terminate()
            worker.wait(20)
        server.stop()

    print(f"sending again {again - back:.1f} s after the server's return")
    assert again - back < 20  # the back-off was 1, 2, 4 s: the next try came within seconds
    assert status(campaign) == Campaign.Status.FINISHED
    assert Campaign.Status.PAUSED not in watch.statuses
    assert all(w["sender"] == "relay" and w["error"] for w in watch.waits)
    # Two workers with two connections each: the server's going away cut at most four
    # messages after their final dot; those are in doubt, the rest sent exactly once.
    assert_everyone_once(campaign, server, recipients, connections=4)
    assert set(Delivery.objects.filter(campaign=campaign).values_list("attempts", flat=True)) == {1}
    assert Sender.objects.get(pk=sender.pk).failing_since is None


def _run_with_a_fault(campaign: Campaign, start_fault, end_fault, seconds: float = 3.0):
    """Run a worker in this thread; the fault starts once mail flows and lasts `seconds`."""
    worker = DeliveryWorker()
    watch = Watch(campaign)
    watch.start()
    faulted_at = ended_at = None
    deadline = time.time() + 120
    try:
        while time.time() < deadline:
            busy = worker.process_one_batch()
            now = time.time()
            if faulted_at is None and Delivery.objects.filter(campaign=campaign, state="sent"):
                start_fault()
                faulted_at = now
            elif faulted_at and ended_at is None and now - faulted_at > seconds:
                end_fault()
                ended_at = now
            if ended_at and not busy:
                worker.maintain(force=True)
                if status(campaign) != Campaign.Status.RUNNING:
                    break
            if not busy:
                scheduler.sleep_until_work(0.2)
    finally:
        worker.close()
        watch.stop()
    return watch, ended_at


@pytest.fixture
def small_batches(settings):
    """Grants of a few recipients (a 50/second sender), so the fault starts mid-campaign."""

    def limit(sender: Sender) -> Sender:
        ratelimit.set_limits(sender, ["50/second"])
        return sender

    return limit


def test_a_421_storm_at_connect_makes_the_campaign_wait_and_it_carries_on(small_batches):
    with CaptureServer() as server:
        sender = small_batches(smtp_sender(server))
        campaign = make_campaign(make_audience(150), sender=sender)
        control.start(campaign)

        def storm() -> None:
            server.banner = "421 4.3.2 too busy, come back later"
            server.disconnect_all()  # pooled connections must reconnect into the storm

        watch, _ = _run_with_a_fault(campaign, storm, lambda: setattr(server, "banner", None))

    assert status(campaign) == Campaign.Status.FINISHED
    assert Campaign.Status.PAUSED not in watch.statuses
    assert any("421" in w["error"] for w in watch.waits)
    assert_everyone_once(campaign, server, 150)
    assert set(Delivery.objects.filter(campaign=campaign).values_list("attempts", flat=True)) == {1}


def test_an_authentication_failure_waits_until_the_server_takes_the_password_again(
    small_batches, monkeypatch
):
    monkeypatch.setenv("POSTROOM_SMTP_RELAY", "secret")
    with CaptureServer(auth={"me": "secret"}) as server:
        sender = small_batches(
            smtp_sender(server, username="me", password_env="POSTROOM_SMTP_RELAY")
        )
        campaign = make_campaign(make_audience(120), sender=sender)
        control.start(campaign)

        def revoke() -> None:
            server.auth = {"me": "changed-by-the-provider"}
            server.disconnect_all()

        watch, _ = _run_with_a_fault(
            campaign, revoke, lambda: setattr(server, "auth", {"me": "secret"})
        )

    assert status(campaign) == Campaign.Status.FINISHED
    assert Campaign.Status.PAUSED not in watch.statuses
    assert any(w["error"] and "auth" in w["error"].lower() for w in watch.waits), watch.waits[:3]
    assert_everyone_once(campaign, server, 120)


def test_a_successful_test_connection_ends_the_wait_at_once_and_wakes_the_workers(settings):
    settings.POSTROOM_SENDER_BACKOFF_SECONDS = 30  # the next try would be half a minute away
    server = CaptureServer()
    server.start()
    sender = smtp_sender(server)
    server.stop()
    campaign = make_campaign(make_audience(5), sender=sender)
    control.start(campaign)
    worker = DeliveryWorker()
    worker.process_one_batch()
    worker.process_one_batch()
    sender.refresh_from_db()
    assert sender.failing_since is not None and sender.backoff_until.timestamp() > time.time() + 20
    assert progress.summary(campaign)["waiting"]["next_try"] is not None

    server.start()
    woken = scheduler.generation()
    report = senders.test_sender(sender)

    assert report.ok, report.message
    sender.refresh_from_db()
    assert (sender.failing_since, sender.backoff_until, sender.consecutive_failures) == (
        None,
        None,
        0,
    )
    assert scheduler.generation() > woken
    assert progress.summary(campaign)["waiting"] is None
    run_until_settled(campaign, worker, timeout=10)  # well before the 30 s try
    server.stop()
    assert status(campaign) == Campaign.Status.FINISHED
    assert len(received(server)) == 5


def test_the_back_off_doubles_from_1_s_to_at_most_30_s_and_in_flight_failures_do_not_push_it():
    sender = Sender.objects.create(name="down", host="-")
    assert waiting.failed(sender.pk, "connection refused", probe=False)  # the outage begins
    assert not waiting.failed(sender.pk, "connection refused", probe=False)  # was on the wire
    sender.refresh_from_db()
    assert sender.consecutive_failures == 1
    first = (sender.backoff_until - sender.failing_since).total_seconds()
    gaps = []
    for _ in range(8):
        # A probe holds its claim (what claim_probe sets once the next try is due).
        Sender.objects.filter(pk=sender.pk).update(
            probing_until=timezone.now() + timedelta(seconds=10)
        )
        waiting.failed(sender.pk, "connection refused", probe=True)
        # Its other parts, on the other connections, fail too: the same try, no more doubling.
        waiting.failed(sender.pk, "connection refused", probe=True)
        waiting.failed(sender.pk, "connection refused", probe=True)
        sender.refresh_from_db()
        gaps.append(round((sender.backoff_until - sender.failing_since).total_seconds()))
    assert sender.consecutive_failures == 9 and sender.probing_until is None
    assert first == pytest.approx(1, abs=0.5)
    assert gaps[:4] == [2, 4, 8, 16] or gaps[0] <= 3  # the clock moves on a slow machine
    assert max(gaps) <= 31 and gaps[-1] >= 29


def test_requeued_rows_give_their_rate_slots_back(small_batches):
    from postroom.delivery.models import SendSlot

    server = CaptureServer()
    server.start()
    sender = small_batches(smtp_sender(server))
    server.stop()
    campaign = make_campaign(make_audience(30), sender=sender)
    control.start(campaign)
    worker = DeliveryWorker()
    for _ in range(3):
        worker.process_one_batch()
    worker.close()

    assert Delivery.objects.filter(campaign=campaign, state="pending").count() == 30
    assert SendSlot.objects.filter(sender=sender).count() == 0, "slots of mail that never left"


def test_a_deferral_long_after_the_start_is_retried_since_the_age_counts_from_it(settings):
    from datetime import timedelta

    from django.utils import timezone

    settings.POSTROOM_RETRY_BASE_SECONDS = 0.05
    slow = "user1@example.net"
    with CaptureServer(fail_first={slow: (1, "451 4.7.1 greylisted")}) as server:
        campaign = make_campaign(make_audience(3), sender=smtp_sender(server))
        control.start(campaign)
        # The send has been going on for four days (35/hour, an outage overnight).
        Campaign.objects.filter(pk=campaign.pk).update(
            started_at=timezone.now() - timedelta(days=4)
        )
        campaign.refresh_from_db()
        run_until_settled(campaign)

    row = Delivery.objects.get(campaign=campaign, email=slow)
    assert row.state == "sent" and row.attempts == 2
    assert row.deferred_since is not None


# -- auto-pause only on the campaign's own evidence ----------------------------------


def _alternate(workers: list[DeliveryWorker], campaign: Campaign, timeout: float = 60.0) -> None:
    """Two workers take turns on one campaign until it stops running."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        busy = False
        for worker in workers:
            busy = worker.process_one_batch() or busy
        if not busy:
            for worker in workers:
                worker.maintain(force=True)
            if status(campaign) != Campaign.Status.RUNNING:
                return
            time.sleep(0.05)
    raise AssertionError("the campaign is still running")


def test_permanent_failures_counted_across_two_workers_pause_the_campaign_with_its_thresholds(
    small_batches, owner
):
    # Every third address is refused for good: 33% > 25%, over a window of 30.
    rejected = {f"user{i}@example.net": "550 5.1.1 no such user" for i in range(0, 300, 3)}
    with CaptureServer(rcpt_reply=rejected) as server:
        sender = small_batches(smtp_sender(server))
        campaign = make_campaign(
            make_audience(300), sender=sender, error_threshold_percent=25, error_window=30
        )
        control.start(campaign)
        workers = [DeliveryWorker(), DeliveryWorker()]
        try:
            _alternate(workers, campaign)
        finally:
            for worker in workers:
                worker.close()

    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.PAUSED
    assert "failed permanently" in campaign.status_reason
    assert "more than 25% of the last 30 recipients" in campaign.status_reason
    event = CampaignEvent.objects.get(campaign=campaign, kind="auto_paused")
    assert "once 20 have an outcome" in event.message
    by_worker = set(
        Delivery.objects.filter(campaign=campaign, state="failed").values_list("worker", flat=True)
    )
    assert len(by_worker) == 2, "both workers' failures counted"
    assert Delivery.objects.filter(campaign=campaign, state="pending").exists()


def test_a_campaign_under_its_threshold_finishes(small_batches):
    rejected = {f"user{i}@example.net": "550 5.1.1 no such user" for i in range(0, 100, 10)}
    with CaptureServer(rcpt_reply=rejected) as server:
        sender = small_batches(smtp_sender(server))
        campaign = make_campaign(make_audience(100), sender=sender, error_window=20)
        control.start(campaign)
        workers = [DeliveryWorker(), DeliveryWorker()]
        try:
            _alternate(workers, campaign)
        finally:
            for worker in workers:
                worker.close()

    assert status(campaign) == Campaign.Status.FINISHED
    assert Delivery.objects.filter(campaign=campaign, state="failed").count() == 10
    assert not CampaignEvent.objects.filter(campaign=campaign, kind="auto_paused").exists()


# -- the command line ------------------------------------------------------------------


def test_the_cli_shows_the_wait_and_sender_test_ends_it(run_cli, subprocess_env):
    import json

    server = CaptureServer()
    server.start()
    sender = smtp_sender(server)
    server.stop()
    campaign = make_campaign(make_audience(4), sender=sender, error_threshold_percent=30)
    control.start(campaign)
    worker = DeliveryWorker()  # alive (its heartbeat) while the CLI looks
    worker.process_one_batch()  # sends a batch
    worker.process_one_batch()  # records its failure

    shown = run_cli("campaign", "status", str(campaign.pk), "--json", env=subprocess_env)
    text = run_cli("campaign", "status", str(campaign.pk), env=subprocess_env)
    data = json.loads(shown.stdout)
    assert data["status"] == "running" and data["stalled"] is None
    assert set(data["waiting"]) == {"sender", "since", "next_try", "error"}
    assert data["waiting"]["sender"] == "relay" and "refused" in data["waiting"]["error"]
    assert set(data["counts"]) == {"pending", "sent", "failed", "skipped", "in_doubt"}
    assert data["error_threshold"] == {"percent": 30, "window": 200, "min_outcomes": 20}
    assert "waiting for sender 'relay' since" in text.stdout and "ago)" in text.stdout
    assert "pauses itself when more than 30% of the last 200 recipients" in text.stdout

    with CaptureServer(port=server.port):
        ok = run_cli("sender", "test", "relay", env=subprocess_env)
    assert ok.returncode == 0, ok.stderr
    assert Sender.objects.get(pk=sender.pk).failing_since is None
    after = json.loads(
        run_cli("campaign", "status", str(campaign.pk), "--json", env=subprocess_env).stdout
    )
    assert after["waiting"] is None
    worker.close()


def test_the_error_threshold_is_set_from_the_cli_in_any_state_and_bad_values_change_nothing(
    run_cli, subprocess_env
):
    campaign = make_campaign(make_audience(2))
    control.start(campaign)
    changed = run_cli(
        "campaign", "error-threshold", str(campaign.pk), "--error-threshold", "35",
        "--error-window", "500", env=subprocess_env,
    )  # fmt: skip
    assert changed.returncode == 0, changed.stderr
    assert "more than 35% of the last 500 recipients" in changed.stdout
    refused = run_cli(
        "campaign", "error-threshold", str(campaign.pk), "--error-threshold", "0",
        "--error-window", "500", env=subprocess_env,
    )  # fmt: skip
    assert refused.returncode == 1 and "percentage from 1 to 100" in refused.stderr
    assert "Traceback" not in refused.stderr
    campaign.refresh_from_db()
    assert (campaign.error_threshold_percent, campaign.error_window) == (35, 500)
