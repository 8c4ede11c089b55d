"""VERP: a return path per recipient, so a bounce is matched even when its report is mangled."""

import pytest

from postroom.campaigns.spec import compiled_for, recipient_for
from postroom.delivery import control
from postroom.delivery.models import Delivery, Sender
from postroom.testing.smtpserver import CaptureServer
from postroom.tracking import bounces
from postroom.tracking.links import default_signer
from postroom.tracking.models import Bounce
from tests.delivery.helpers import make_audience, make_campaign, run_until_settled, smtp_sender
from tests.tracking.test_bounces import sample, sent, suppression


@pytest.fixture
def verp_campaign(campaign):
    campaign.sender = Sender.objects.create(
        name="relay", host="smtp.example.org", envelope_from="bounces@example.org", verp=True
    )
    campaign.save()
    return campaign


def verp_address(campaign, subscriber) -> str:
    return f"bounces+{default_signer().verp_tag(campaign.pk, subscriber.pk)}@example.org"


def mangled_notice(to: str) -> bytes:
    """A failure notice whose report names nobody and quotes nothing (seen from old MTAs)."""
    return (
        f"From: MAILER-DAEMON@mx.example.net\r\nTo: {to}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n\r\n"
        "Sorry, we were unable to deliver your message to the following address.\r\n\r\n"
        "Remote host said: 550 5.1.1 Recipient address rejected [RCPT_TO]\r\n"
    ).encode()


def test_each_recipient_gets_its_own_return_path(verp_campaign, ann):
    built = compiled_for(verp_campaign).build(recipient_for(ann))

    assert built.mail_from == verp_address(verp_campaign, ann)
    assert default_signer().verp_ids(built.mail_from.split("+")[1].split("@")[0]) == (
        verp_campaign.pk,
        ann.pk,
    )


def test_without_verp_the_return_path_is_the_senders(campaign, ann):
    campaign.sender = Sender.objects.create(
        name="relay", host="smtp.example.org", envelope_from="bounces@example.org"
    )
    campaign.save()

    assert compiled_for(campaign).build(recipient_for(ann)).mail_from == "bounces@example.org"


def test_a_mangled_notice_to_the_verp_address_is_matched_to_its_recipient(verp_campaign, ann):
    delivery = sent(verp_campaign, ann)

    summary = bounces.ingest_messages([mangled_notice(verp_address(verp_campaign, ann))], "t")

    assert (summary.hard, summary.suppressed) == (1, 1)
    bounce = Bounce.objects.get()
    assert (bounce.email, bounce.delivery_id, bounce.status) == (ann.email, delivery.pk, "5.1.1")
    assert suppression(ann.email) == "bounced"


def test_the_verp_address_wins_over_a_forwarded_address_in_the_report(verp_campaign, ann):
    delivery = sent(verp_campaign, ann)
    raw = sample("postfix_550_user_unknown.eml", "ann.old@elsewhere.example").replace(
        b"To: bounces@example.org", f"To: {verp_address(verp_campaign, ann)}".encode()
    )

    bounces.ingest_messages([raw], "t")

    assert Bounce.objects.get().delivery_id == delivery.pk
    assert suppression(ann.email) == "bounced"
    assert suppression("ann.old@elsewhere.example") is None


def test_a_forged_verp_tag_matches_nobody(verp_campaign, ann):
    sent(verp_campaign, ann)
    forged = f"bounces+b{verp_campaign.pk}-{ann.pk}-{'0' * 20}@example.org"

    summary = bounces.ingest_messages([mangled_notice(forged)], "t")

    assert summary.unrecognised == 1
    assert suppression(ann.email) is None


def test_an_auto_reply_to_the_verp_address_is_not_a_bounce(verp_campaign, ann):
    sent(verp_campaign, ann)
    reply = (
        f"From: Ann <{ann.email}>\r\nTo: {verp_address(verp_campaign, ann)}\r\n"
        "Subject: Out of office\r\n\r\nI am away until Monday.\r\n"
    ).encode()

    assert bounces.ingest_messages([reply], "t").unrecognised == 1
    assert suppression(ann.email) is None


@pytest.mark.django_db(transaction=True)
def test_the_smtp_server_sees_the_verp_return_path():
    with CaptureServer() as server:
        sender = smtp_sender(server, envelope_from="bounces@example.org", verp=True)
        campaign = make_campaign(make_audience(3), sender=sender)
        control.start(campaign)
        run_until_settled(campaign)

    by_rcpt = {m.rcpt_to[0]: m.mail_from for m in server.messages}
    for row in Delivery.objects.filter(campaign=campaign):
        tag = default_signer().verp_tag(campaign.pk, row.subscriber_id)
        assert by_rcpt[row.email] == f"bounces+{tag}@example.org"
