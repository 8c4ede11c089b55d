"""Permanent rejections at send time, sorted by whose fault they are, through a real SMTP
server; and the founding story once more: 20 dead addresses are suppressed by the first
campaign, and the next campaign skips them."""

import pytest

from postroom.audience.emails import email_hash
from postroom.audience.models import Suppression
from postroom.campaigns.models import Campaign
from postroom.delivery import control, rejections
from postroom.delivery.models import CampaignEvent, Delivery, Sender
from postroom.errors import ConfigurationError
from postroom.testing.smtpserver import CaptureServer
from postroom.tracking.models import Bounce
from tests.delivery.helpers import make_audience, make_campaign, run_until_settled, smtp_sender


def suppressed(address: str) -> str | None:
    row = Suppression.objects.filter(email_hash=email_hash(address)).first()
    return row.reason if row else None


@pytest.mark.parametrize(
    ("reply", "action", "status"),
    [
        ("550 5.1.1 <a@example.net>: Recipient address rejected: User unknown", "hard", "5.1.1"),
        ("550 5.1.10 RESOLVER.ADR.RecipientNotFound; not found", "hard", "5.1.10"),
        ("550 5.2.1 The email account that you tried to reach is disabled", "hard", "5.2.1"),
        ("552 5.2.2 The email account that you tried to reach is over quota", "soft", "5.2.2"),
        ("554 5.7.1 Service unavailable; Client host blocked using zen.spamhaus.org", "policy",
         "5.7.1"),
        ("550 5.7.26 Unauthenticated email is not accepted (DMARC policy)", "policy", "5.7.26"),
        ("554 5.3.4 Message too big for system", "failed", "5.3.4"),
        ("550 User unknown", "hard", "5.0.0"),
        ("552 Mailbox full", "soft", "5.0.0"),
        ("554 Rejected: message looks like spam", "policy", "5.0.0"),
        ("550 Requested action not taken", "failed", "5.0.0"),
    ],
)  # fmt: skip
def test_each_rejection_is_read_by_its_code_then_its_words(db, reply, action, status):
    verdict = rejections.classify(reply)

    assert (verdict.action, verdict.status) == (action, status), verdict.rule


def test_the_rules_are_settable(settings):
    settings.POSTROOM_REJECTION_RULES = ["5.7.1=hard", "5=failed"]

    assert rejections.classify("554 5.7.1 no such user here").action == "hard"
    assert rejections.classify("550 5.1.1 unknown").action == "failed"


@pytest.mark.parametrize("rule", ["5.1", "5.1=delete", "x.1=hard"])
def test_a_rule_that_makes_no_sense_is_refused_by_name(settings, rule):
    settings.POSTROOM_REJECTION_RULES = [rule]

    with pytest.raises(ConfigurationError, match="POSTROOM_REJECTION_RULES"):
        rejections.classify("550 5.1.1 unknown")


real_smtp = pytest.mark.django_db(transaction=True)  # the server and worker share the database


@real_smtp
def test_the_founding_story_dead_addresses_are_suppressed_and_the_next_campaign_skips_them():
    audience = make_audience(200)
    dead = [f"user{i}@example.net" for i in range(5, 200, 10)]  # 20, spread over the list
    assert len(dead) == 20
    with CaptureServer(rcpt_reply={a: "550 5.1.1 no such user" for a in dead}) as server:
        sender = smtp_sender(server)
        first = make_campaign(audience, sender=sender, name="November")
        control.start(first)
        run_until_settled(first, timeout=60)

        assert first.status == Campaign.Status.FINISHED, first.status_reason
        failed = Delivery.objects.filter(campaign=first, state="failed")
        assert sorted(failed.values_list("email", flat=True)) == sorted(dead)
        assert all(suppressed(a) == "bounced" for a in dead)
        bounce = Bounce.objects.get(email=dead[0])
        assert (bounce.kind, bounce.status, bounce.source) == ("hard", "5.1.1", "smtp")
        assert bounce.delivery_id == failed.get(email=dead[0]).pk
        assert failed.get(email=dead[0]).error.startswith("hard bounce 5.1.1: 550 5.1.1")
        assert suppressed("user0@example.net") is None
        first_received = len(server.messages)

        second = make_campaign(audience, sender=sender, name="December")
        control.start(second)
        run_until_settled(second, timeout=60)

        second_rcpts = {r for m in server.messages[first_received:] for r in m.rcpt_to}

    assert second.status == Campaign.Status.FINISHED
    assert first_received == 180 and len(second_rcpts) == 180
    assert not set(dead) & second_rcpts  # never even tried
    assert not Delivery.objects.filter(campaign=second, state="failed").exists()
    assert not Delivery.objects.filter(campaign=second, email__in=dead, state="sent").exists()


@real_smtp
def test_a_policy_rejection_counts_against_the_sender_not_the_address():
    blocked = {f"user{i}@example.net": "554 5.7.1 rejected: poor reputation" for i in (1, 2, 3)}
    with CaptureServer(rcpt_reply=blocked) as server:
        campaign = make_campaign(make_audience(30), sender=smtp_sender(server))
        control.start(campaign)
        run_until_settled(campaign)

    assert all(suppressed(a) is None for a in blocked)
    assert not Bounce.objects.exists()
    sender = Sender.objects.get(pk=campaign.sender_id)
    assert sender.policy_rejections == 3
    assert "5.7.1 rejected: poor reputation" in sender.last_policy_rejection
    event = CampaignEvent.objects.filter(campaign=campaign, kind="sender_error").last()
    assert "refused for policy or reputation" in event.message


@real_smtp
def test_a_full_mailbox_is_a_soft_bounce_that_suppresses_only_past_the_limit(settings):
    settings.POSTROOM_SOFT_BOUNCE_LIMIT = 2
    full = "user1@example.net"
    with CaptureServer(rcpt_reply={full: "552 5.2.2 mailbox full"}) as server:
        audience = make_audience(5)
        sender = smtp_sender(server)
        for name in ("one", "two"):
            campaign = make_campaign(audience, sender=sender, name=name)
            control.start(campaign)
            run_until_settled(campaign)
            if name == "one":
                assert suppressed(full) is None
                assert Bounce.objects.get().kind == "soft"

    assert suppressed(full) == "bounced"
    assert Suppression.objects.get(email_hash=email_hash(full)).source == "2 soft bounces"
