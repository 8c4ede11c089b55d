"""A pool of two senders under real worker processes: one goes down mid-send.

The other takes its share within seconds, nobody is lost or sent twice, the
campaign never shows as waiting, and the healed sender gets its share back.
"""

import time

import pytest

from postroom.campaigns import pools
from postroom.campaigns.models import Campaign
from postroom.delivery import control, ratelimit
from postroom.testing.smtpserver import CaptureServer
from tests.delivery.helpers import make_audience, make_campaign, smtp_sender
from tests.delivery.processes import start_worker, wait_for
from tests.delivery.test_outages import Watch, received, status
from tests.delivery.test_pools import through

pytestmark = pytest.mark.django_db(transaction=True)


def rate(server: CaptureServer, start: float, end: float) -> float:
    """Messages a second the server received in [start, end)."""
    return sum(start <= m.received_at < end for m in server.messages) / (end - start)


def test_two_workers_move_a_down_sender_s_share_to_the_other_within_seconds(subprocess_env):
    # Enough that the backup alone needs half a minute for what is left when the
    # relay goes down: the relay heals while there is still mail for it.
    recipients = 8000
    subprocess_env["POSTROOM_SENDER_BACKOFF_MAX_SECONDS"] = "2"
    a, b = CaptureServer(), CaptureServer()
    a.start()
    b.start()
    workers = []
    try:
        relay, backup = smtp_sender(a, "relay"), smtp_sender(b, "backup")
        # Limited, so the send lasts long enough to watch. The grants are work-conserving:
        # beside the slow relay the backup already runs near its own limit.
        ratelimit.set_limits(relay, ["50/second"])
        ratelimit.set_limits(backup, ["250/second"])
        campaign = make_campaign(make_audience(recipients), sender=relay)
        pools.save(campaign, [(relay, 1), (backup, 1)], new_primary=True)
        control.start(campaign)
        watch = Watch(campaign)
        watch.start()
        workers = [start_worker(subprocess_env) for _ in range(2)]

        assert wait_for(lambda: len(a.messages) >= 150 and len(b.messages) >= 150, 120)
        a.refuse_connections()  # the relay goes down mid-send
        down = time.time()
        before = rate(b, down - 3, down)
        # Its share moves: the backup carries the whole campaign at (at least) the pace
        # it had beside the relay, instead of stalling behind the relay's claimed rows.
        took_over = wait_for(
            lambda: (
                time.time() - down >= 2 and rate(b, time.time() - 2, time.time()) >= 0.8 * before
            ),
            60,
        )
        took_over_at = time.time()
        sent_while_down = len(a.messages)
        a.accept_connections()
        healed = time.time()
        assert wait_for(lambda: len(a.messages) > sent_while_down, 60), "the relay never came back"
        back = min(m.received_at for m in a.messages[sent_while_down:])
        assert wait_for(lambda: status(campaign) != Campaign.Status.RUNNING, 180)
        watch.stop()
    finally:
        for worker in workers:
            worker.terminate()
            worker.wait(20)
        a.stop()
        b.stop()

    counts = received(a)
    for rcpt, n in received(b).items():
        counts[rcpt] = counts.get(rcpt, 0) + n
    rows = dict(campaign.deliveries.values_list("email", "state"))
    doubtful = [email for email, state in rows.items() if state == "in_doubt"]
    print(
        f"backup {before:.0f}/s beside the relay; carrying it {took_over_at - down:.1f} s after the"
        f" relay went down; the relay sent again {back - healed:.1f} s after it healed;"
        f" {through(campaign)}"
    )
    assert took_over, f"the backup never took the relay's share (it sent {before:.0f}/s)"
    assert len(rows) == recipients and set(rows.values()) <= {"sent", "in_doubt"}
    assert len(doubtful) <= 4  # the relay's connections cut mid-message: listed, not resent
    assert all(counts.get(email) == 1 for email, state in rows.items() if state == "sent")
    assert all(counts.get(email, 0) <= 1 for email in rows)
    assert status(campaign) == Campaign.Status.FINISHED
    assert watch.waits == []  # the campaign never waited: the backup carried it
    assert took_over_at - down < 30  # within seconds; generous for a loaded machine
    assert back - healed < 30  # the back-off caps at 2 s here
