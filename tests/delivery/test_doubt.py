"""Settling recipients in doubt: marked delivered or sent again, and every refusal."""

import csv
import io

import pytest

from postroom.audience import services as audience
from postroom.audience.models import Subscriber
from postroom.campaigns.models import Campaign
from postroom.delivery import control, doubt, export
from postroom.delivery.models import CampaignEvent, Delivery
from postroom.errors import InvalidInput
from postroom.testing.smtpserver import CaptureServer
from tests.delivery.helpers import (
    finished_with_doubt,
    make_audience,
    make_campaign,
    run_until_settled,
    smtp_sender,
)

pytestmark = pytest.mark.django_db(transaction=True)

DROPPED = ["user2@example.net", "user5@example.net"]


@pytest.fixture
def server():
    """A real SMTP server that hangs up after the body of DROPPED's first message."""
    with CaptureServer(drop_data=dict.fromkeys(DROPPED, 1)) as smtp:
        yield smtp


@pytest.fixture
def finished(server) -> Campaign:
    """A campaign of 8 that finished with DROPPED in doubt, as a real send leaves them."""
    campaign = finished_with_doubt(server)
    assert sorted(doubt.rows_in_doubt(campaign).values_list("email", flat=True)) == DROPPED
    return campaign


def row(campaign: Campaign, email: str) -> Delivery:
    return Delivery.objects.get(campaign=campaign, email=email)


def resolved_events(campaign: Campaign) -> list[str]:
    return list(
        CampaignEvent.objects.filter(campaign=campaign, kind="resolved").values_list(
            "message", flat=True
        )
    )


def received(server: CaptureServer) -> list[str]:
    return sorted(r for m in server.messages for r in m.rcpt_to)


def test_it_marks_a_row_delivered_with_who_and_when_apart_from_confirmed_sends(finished, owner):
    why = row(finished, "user2@example.net").error
    count = doubt.resolve(finished, delivered=True, emails=["User2@Example.NET "], by=owner)

    assert count == 1
    marked = row(finished, "user2@example.net")
    assert marked.state == "sent"
    assert marked.error.startswith("marked delivered by owner on ")
    assert why and marked.error.endswith(f"; was in doubt: {why}")
    assert marked.sent_at is None
    assert row(finished, "user5@example.net").state == "in_doubt"
    finished.refresh_from_db()
    assert finished.status == "finished"
    assert resolved_events(finished) == [
        "1 recipient in doubt marked delivered by owner: user2@example.net"
    ]
    lines = csv.DictReader(io.StringIO("".join(export.csv_lines(finished.pk, "sent"))))
    by_email = {r["email"]: r for r in lines}
    assert by_email["user2@example.net"]["error"].startswith("marked delivered by owner")
    assert by_email["user2@example.net"]["sent_at"] == ""
    confirmed = by_email["user0@example.net"]
    assert (
        confirmed["error"] == "" and confirmed["sent_at"] and confirmed["reply"].startswith("250")
    )


def test_it_resends_every_row_in_doubt_and_a_worker_sends_them_with_attempts_kept(finished, server):
    assert DROPPED[0] not in received(server)

    count = doubt.resolve(finished, delivered=False, by="ops-script")

    assert count == 2
    queued = row(finished, DROPPED[0])
    assert (queued.state, queued.attempts, queued.handed_at) == ("pending", 1, None)
    assert queued.error.startswith("resent by ops-script on ")
    finished.refresh_from_db()
    assert finished.status == "running" and finished.finished_at is None
    assert resolved_events(finished) == ["all 2 recipients in doubt resent by ops-script"]

    run_until_settled(finished)

    finished.refresh_from_db()
    assert finished.status == "finished"
    assert {row(finished, e).state for e in DROPPED} == {"sent"}
    assert [row(finished, e).attempts for e in DROPPED] == [2, 2]
    assert row(finished, DROPPED[0]).error == ""
    assert received(server) == sorted(Delivery.objects.values_list("email", flat=True))


def test_an_address_that_is_not_in_doubt_is_refused_and_nothing_changes(finished):
    with pytest.raises(InvalidInput) as refused:
        doubt.resolve(finished, delivered=True, emails=[DROPPED[0], "user1@example.net"])

    assert str(refused.value) == (
        f"user1@example.net is not in doubt in campaign {finished.pk} (it is sent)"
    )
    assert row(finished, DROPPED[0]).state == "in_doubt"
    assert resolved_events(finished) == []


def test_an_address_that_is_no_recipient_and_a_foreign_row_are_refused(finished):
    other = make_campaign(make_audience(1, list_name="other", domain="example.com"))
    control.start(other)
    foreign = Delivery.objects.get(campaign=other)

    with pytest.raises(InvalidInput, match=r"\(it is not one of its recipients\)"):
        doubt.resolve(finished, delivered=False, emails=["nobody@example.org"])
    with pytest.raises(InvalidInput) as refused:
        doubt.resolve(finished, delivered=False, ids=[foreign.pk])
    assert (
        str(refused.value) == f"delivery {foreign.pk} is not a recipient of campaign {finished.pk}"
    )
    with pytest.raises(InvalidInput, match="choose the recipients"):
        doubt.resolve(finished, delivered=False, emails=[])
    assert doubt.rows_in_doubt(finished).count() == 2
    finished.refresh_from_db()
    assert finished.status == "finished"


def test_a_campaign_with_nothing_in_doubt_says_so(finished):
    assert doubt.resolve(finished, delivered=True) == 2

    with pytest.raises(InvalidInput) as refused:
        doubt.resolve(finished, delivered=False)
    assert str(refused.value) == f"nothing is in doubt in campaign {finished.pk}"
    finished.refresh_from_db()
    assert finished.status == "finished"


def test_a_cancelled_campaign_refuses_a_resend_but_records_a_delivery(finished):
    Campaign.objects.filter(pk=finished.pk).update(status="cancelled")

    with pytest.raises(InvalidInput, match="can only be marked delivered"):
        doubt.resolve(finished, delivered=False)
    assert doubt.rows_in_doubt(finished).count() == 2

    assert doubt.resolve(finished, delivered=True, ids=[row(finished, DROPPED[1]).pk]) == 1
    assert row(finished, DROPPED[1]).state == "sent"
    finished.refresh_from_db()
    assert finished.status == "cancelled"


def test_a_resend_on_a_paused_campaign_waits_for_resume(finished):
    Campaign.objects.filter(pk=finished.pk).update(status="paused")

    doubt.resolve(finished, delivered=False, ids=[row(finished, DROPPED[0]).pk])

    finished.refresh_from_db()
    assert finished.status == "paused"
    assert row(finished, DROPPED[0]).state == "pending"
    assert row(finished, DROPPED[1]).state == "in_doubt"


def test_an_erased_subscriber_in_doubt_is_skipped_rather_than_resent(finished):
    audience.erase(Subscriber.objects.get(email=DROPPED[0]))

    assert doubt.resolve(finished, delivered=False) == 2

    erased = Delivery.objects.get(campaign=finished, subscriber__isnull=True)
    assert (erased.state, erased.email, erased.error) == ("skipped", "", "erased")
    assert row(finished, DROPPED[1]).state == "pending"


def test_retry_failed_in_doubt_takes_the_same_path_as_a_resend(server):
    campaign = make_campaign(make_audience(8), sender=smtp_sender(server))
    server.rcpt_reply["user7@example.net"] = "550 5.1.1 no such user"
    control.start(campaign)
    run_until_settled(campaign)
    assert row(campaign, "user7@example.net").state == "failed"

    assert control.retry_failed(campaign, in_doubt=True) == 3

    failed, dropped = row(campaign, "user7@example.net"), row(campaign, DROPPED[0])
    assert (failed.state, failed.attempts) == ("pending", 0)
    assert (dropped.state, dropped.attempts, dropped.handed_at) == ("pending", 1, None)
    event = CampaignEvent.objects.filter(campaign=campaign, kind="retried").get()
    assert event.message == "3 recipients queued again (2 of them in doubt)"
