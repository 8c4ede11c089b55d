"""A campaign sent through a pool of senders: weights, failover, rates, one sender as before.

Real SMTP servers (CaptureServer, told to refuse on command), a worker driven
one step at a time; the worker subprocess story is in test_pools_processes.py.
"""

import re
import time

import pytest

from postroom.campaigns import pools, services
from postroom.campaigns.models import Campaign, CampaignSender
from postroom.delivery import control, progress, ratelimit, scheduler
from postroom.delivery.models import Delivery, Sender
from postroom.delivery.worker import DeliveryWorker
from postroom.mail.dkim import Signer, generate_key_file
from postroom.testing.smtpserver import CaptureServer
from tests.delivery.helpers import (
    make_audience,
    make_campaign,
    run_until_idle,
    run_until_settled,
    smtp_sender,
    states,
)
from tests.delivery.test_dkim import verifies
from tests.delivery.test_fairness import most_in_any_window

pytestmark = pytest.mark.django_db(transaction=True)


def pooled(mailing_list, members, **fields) -> Campaign:
    """A campaign whose pool is `members` [(sender, weight)], as the services store it."""
    campaign = make_campaign(mailing_list, sender=members[0][0], **fields)
    pools.save(campaign, members, new_primary=True)
    return campaign


def received(*servers) -> dict[str, int]:
    counts: dict[str, int] = {}
    for server in servers:
        for message in server.messages:
            for rcpt in message.rcpt_to:
                counts[rcpt] = counts.get(rcpt, 0) + 1
    return counts


def through(campaign: Campaign) -> dict[str, int]:
    """Sent rows per sender name, from the ledger."""
    counts: dict[str, int] = {}
    rows = Delivery.objects.filter(campaign=campaign, state=Delivery.State.SENT)
    for name in rows.values_list("sender__name", flat=True):
        counts[name] = counts.get(name, 0) + 1
    return counts


def assert_everyone_once(campaign: Campaign, *servers) -> None:
    rows = states(campaign)
    counts = received(*servers)
    assert set(rows.values()) == {"sent"}, set(rows.values())
    assert {email: counts.get(email) for email in rows} == {email: 1 for email in rows}


def test_it_splits_a_campaign_across_its_pool_by_weight():
    with CaptureServer() as a, CaptureServer() as b:
        relay, backup = smtp_sender(a, "relay"), smtp_sender(b, "backup")
        campaign = pooled(make_audience(3000), [(relay, 3), (backup, 1)])
        control.start(campaign)
        run_until_idle()

        assert_everyone_once(campaign, a, b)
        counts = through(campaign)
    share = counts["relay"] / 3000
    print(f"relay {counts['relay']}, backup {counts['backup']}: {share:.2f} through relay")
    assert 0.65 <= share <= 0.85  # weight 3 of 4; grants are whole batches of up to 500
    assert len(a.messages) == counts["relay"] and len(b.messages) == counts["backup"]


def test_when_one_sender_is_down_the_other_takes_its_share_and_the_campaign_never_waits(
    settings,
):
    settings.POSTROOM_SENDER_BACKOFF_SECONDS = 0.2
    with CaptureServer() as a, CaptureServer() as b:
        relay, backup = smtp_sender(a, "relay"), smtp_sender(b, "backup")
        campaign = pooled(make_audience(300), [(relay, 1), (backup, 1)])
        a.refuse_connections()
        control.start(campaign)
        worker = DeliveryWorker()
        waits = []
        for _ in range(200):
            worked = worker.process_one_batch()
            campaign.refresh_from_db()
            waits.append(progress.waiting(campaign))
            if not worked:
                break
        worker.maintain(force=True)
        relay.refresh_from_db()

        assert_everyone_once(campaign, a, b)
        assert len(a.messages) == 0 and len(b.messages) == 300
        assert relay.is_waiting  # it was found down, and nobody could try it since
        assert not any(waits)  # the campaign itself never waited
        campaign.refresh_from_db()
        assert campaign.status == Campaign.Status.FINISHED


def test_a_healed_sender_gets_its_share_back(settings):
    settings.POSTROOM_SENDER_BACKOFF_SECONDS = 0.2
    settings.POSTROOM_SENDER_BACKOFF_MAX_SECONDS = 0.5
    with CaptureServer() as a, CaptureServer() as b:
        relay, backup = smtp_sender(a, "relay"), smtp_sender(b, "backup")
        # Limited, so the send lasts long enough for the relay to come back.
        ratelimit.set_limits(relay, ["40/second"])
        ratelimit.set_limits(backup, ["40/second"])
        campaign = pooled(make_audience(400), [(relay, 1), (backup, 1)])
        a.refuse_connections()
        control.start(campaign)
        worker = DeliveryWorker()
        deadline = time.time() + 60
        while len(b.messages) < 60 and time.time() < deadline:
            worker.process_one_batch()
        assert len(a.messages) == 0
        a.accept_connections()
        healed = time.time()
        run_until_settled(campaign, worker, timeout=120)

        assert_everyone_once(campaign, a, b)
        first_again = min(m.received_at for m in a.messages)
        after = [m for m in b.messages if m.received_at > first_again]
    print(
        f"relay sent again {first_again - healed:.1f} s after it healed; {len(a.messages)} in all"
    )
    assert first_again - healed < 30  # the back-off caps at 0.5 s here: generous for load
    assert len(a.messages) >= 60  # it took a real share again, not just the probe
    assert after  # and the backup kept its own share meanwhile


def test_a_campaign_waits_only_when_every_sender_of_its_pool_is_down(settings):
    settings.POSTROOM_SENDER_BACKOFF_SECONDS = 0.05
    with CaptureServer() as a, CaptureServer() as b:
        relay, backup = smtp_sender(a, "relay"), smtp_sender(b, "backup")
        campaign = pooled(make_audience(50), [(relay, 2), (backup, 1)])
        a.refuse_connections()
        b.refuse_connections()
        control.start(campaign)
        worker = DeliveryWorker()
        deadline = time.time() + 30
        while time.time() < deadline and (
            Sender.objects.filter(failing_since__isnull=False).count() < 2
        ):
            worker.process_one_batch()
        worker.complete_flight()
        campaign.refresh_from_db()
        wait = progress.waiting(campaign)
        pending = Delivery.objects.filter(campaign=campaign, state=Delivery.State.PENDING).count()

        a.accept_connections()
        b.accept_connections()
        run_until_settled(campaign, worker, timeout=60)
        assert_everyone_once(campaign, a, b)

    assert wait is not None and wait["sender"] in ("relay", "backup")
    assert pending == 50  # nothing failed or spent meanwhile


def test_each_sender_keeps_its_own_rate_limit_in_a_pool():
    with CaptureServer() as a, CaptureServer() as b:
        relay, backup = smtp_sender(a, "relay"), smtp_sender(b, "backup")
        ratelimit.set_limits(relay, ["10/second"])
        ratelimit.set_limits(backup, ["5/second"])
        campaign = pooled(make_audience(90), [(relay, 1), (backup, 1)])
        control.start(campaign)
        run_until_settled(campaign, timeout=120)

        assert_everyone_once(campaign, a, b)
        relay_times = sorted(m.received_at for m in a.messages)
        backup_times = sorted(m.received_at for m in b.messages)
    print(f"relay {len(relay_times)}, backup {len(backup_times)}")
    assert most_in_any_window(relay_times, 1.0) <= 10
    assert most_in_any_window(backup_times, 1.0) <= 5
    # The slower sender cannot carry half: the faster one takes what it gives up.
    assert len(relay_times) > len(backup_times) > 0


def test_each_message_carries_the_return_path_and_dkim_signature_of_its_sender(tmp_path):
    key_file = str(tmp_path / "relay.pem")
    generate_key_file(key_file)
    with CaptureServer() as a, CaptureServer() as b:
        relay = smtp_sender(
            a,
            "relay",
            envelope_from="bounces@relay.example.org",
            dkim_domain="example.org",
            dkim_selector="pr1",
            dkim_key_file=key_file,
        )
        backup = smtp_sender(b, "backup", envelope_from="bounces@backup.example.org", verp=True)
        campaign = pooled(make_audience(1200), [(relay, 1), (backup, 1)])
        control.start(campaign)
        run_until_idle()

        assert_everyone_once(campaign, a, b)
        signer = Signer.from_file("example.org", "pr1", key_file)
        assert a.messages and b.messages
        assert {m.mail_from for m in a.messages} == {"bounces@relay.example.org"}
        assert all(verifies(m.data, signer) for m in a.messages[:5])
        assert all(
            re.fullmatch(r"bounces\+b\S+@backup\.example\.org", m.mail_from) for m in b.messages
        )
        assert not any(b"DKIM-Signature" in m.data for m in b.messages)
        ids = [m.message_id for m in a.messages + b.messages]
        assert len(set(ids)) == 1200  # one Message-ID per recipient, whichever sender


def test_a_pool_of_one_is_the_campaign_s_sender_as_before():
    with CaptureServer() as a:
        relay = smtp_sender(a, "relay")
        mailing_list = make_audience(20)
        campaign = services.create_campaign(
            name="Solo",
            subject="Hi",
            body="Hello",
            from_email="news@example.org",
            lists=[mailing_list],
            pool=[(relay, 5)],
        )
        assert campaign.sender == relay
        assert not CampaignSender.objects.filter(campaign=campaign).exists()
        assert pools.members(campaign) == [(relay, 1)]
        control.start(campaign)
        grant = scheduler.next_grant("w-test")
        assert grant is not None and grant.sender_id == relay.pk and grant.pool_weight == 1
        scheduler.release(grant, grant.count)
        run_until_idle()

        assert_everyone_once(campaign, a)
    assert through(campaign) == {"relay": 20}


def test_a_pool_is_given_by_name_and_weight_and_bad_ones_change_nothing():
    with CaptureServer() as a, CaptureServer() as b:
        relay, backup = smtp_sender(a, "relay"), smtp_sender(b, "backup")
        assert pools.parse(["relay:2,backup"]) == [("relay", 2), ("backup", 1)]
        assert pools.parse(["relay", "backup:3"]) == [("relay", 1), ("backup", 3)]
        members = pools.resolve(pools.parse(["backup:3", "relay"]))
        assert members == [(backup, 3), (relay, 1)]
        campaign = make_campaign(make_audience(2), sender=relay)
        services.update_campaign(campaign, pool=members)
        campaign.refresh_from_db()
        assert campaign.sender == backup  # the first one is the primary
        assert pools.describe(pools.members(campaign)) == "backup (3), relay (1)"

        for bad, message in [
            (["relay:0"], "from 1 to 1000"),
            (["relay", "relay:2"], "twice"),
            (["nobody"], "does not exist"),
        ]:
            with pytest.raises(Exception, match=message):
                services.update_campaign(campaign, pool=pools.resolve(pools.parse(bad)))
        assert pools.describe(pools.members(campaign)) == "backup (3), relay (1)"

        services.update_campaign(campaign, sender=backup)  # the same primary: the pool stays
        assert len(pools.members(campaign)) == 2
        services.update_campaign(campaign, sender=relay)  # a new primary alone: a pool of one
        assert pools.members(campaign) == [(relay, 1)]
        copy = services.duplicate_campaign(
            services.update_campaign(campaign, pool=[(relay, 1), (backup, 2)])
        )
        assert pools.members(copy) == [(relay, 1), (backup, 2)]  # the primary first
