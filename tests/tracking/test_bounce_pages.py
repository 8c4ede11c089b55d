"""The Bounces page: filters, one report as it came, un-suppress with a reason, mailboxes."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from postroom import credentials
from postroom.audience import services as audience
from postroom.audience.models import Suppression
from postroom.campaigns import services as campaigns
from postroom.delivery.models import Sender
from postroom.tracking import bounces, lifts, mailboxes
from postroom.tracking.models import Bounce, BounceMailbox
from tests.tracking.test_bounces import sample, sent, suppression
from tests.tracking.test_mailboxes import append, mailbox


@pytest.fixture
def reported(campaign, ann, news):
    """A hard bounce of Ann (campaign 'Spring' via sender 'main') and an old complaint of Bob."""
    campaign.sender = Sender.objects.create(name="main", host="smtp.example.org")
    campaign.save()
    delivery = sent(campaign, ann)
    bounces.ingest_messages(
        [sample("postfix_550_user_unknown.eml", ann.email, delivery.message_id)], "ingest"
    )
    bob = audience.add_subscriber("bob@example.com", lists=[news])
    bounces.ingest_messages([sample("arf_abuse_complaint.eml", bob.email, n=2)], "mailbox:main")
    Bounce.objects.filter(email=bob.email).update(at=timezone.now() - timedelta(days=10))
    return Bounce.objects.get(email=ann.email), Bounce.objects.get(email=bob.email)


@pytest.mark.parametrize("name", ["bounces", "mailbox_new"])
def test_the_pages_are_for_operators_only(client, outsider, name):
    assert client.get(reverse(name)).status_code == 302
    client.force_login(outsider)
    assert client.get(reverse(name)).status_code == 403


def test_a_bounce_report_and_its_lift_are_for_operators_only(client, outsider, reported):
    hard, _ = reported
    client.force_login(outsider)

    assert client.get(reverse("bounce_detail", args=[hard.pk])).status_code == 403
    response = client.post(reverse("bounce_lift", args=[hard.pk]), {"reason": "let me in"})

    assert response.status_code == 403
    assert suppression(hard.email) == "bounced"


@pytest.mark.parametrize(
    ("query", "shown", "hidden"),
    [
        ("kind=hard", "ann@example.com", "bob@example.com"),
        ("kind=complaint", "bob@example.com", "ann@example.com"),
        ("source=mailbox:main", "bob@example.com", "ann@example.com"),
        ("q=ann", "ann@example.com", "bob@example.com"),
        ("since={today}", "ann@example.com", "bob@example.com"),
        ("until={week_ago}", "bob@example.com", "ann@example.com"),
    ],
)
def test_the_filters_narrow_the_list(owner_client, reported, query, shown, hidden):
    today = timezone.localdate()
    query = query.format(today=today, week_ago=today - timedelta(days=7))

    page = owner_client.get(f"{reverse('bounces')}?{query}").content.decode()

    assert shown in page and hidden not in page


def test_the_sender_and_campaign_filters(owner_client, reported, campaign):
    sender = campaign.sender
    other = campaigns.create_campaign(
        name="Other", subject="s", from_email="n@example.org", body="b", lists=[]
    )

    by_sender = owner_client.get(f"{reverse('bounces')}?sender={sender.pk}").content.decode()
    by_other = owner_client.get(f"{reverse('bounces')}?campaign={other.pk}").content.decode()

    assert "ann@example.com" in by_sender and "bob@example.com" not in by_sender
    assert "No bounce matches these filters" in by_other


def test_the_report_is_shown_as_it_came_and_escaped(owner_client, db):
    raw = sample("postfix_550_user_unknown.eml", "eve@example.com").replace(
        b"User unknown", b"User <script>alert(1)</script> unknown"
    )
    bounces.ingest_messages([raw], "ingest")
    bounce = Bounce.objects.get()

    page = owner_client.get(reverse("bounce_detail", args=[bounce.pk])).content.decode()

    assert "Final-Recipient: rfc822; eve@example.com" in page
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_un_suppressing_needs_a_reason_and_records_it(owner_client, owner, reported, news):
    hard, _ = reported
    url = reverse("bounce_lift", args=[hard.pk])

    refused = owner_client.post(url, {"reason": " "}, follow=True)
    assert "say why" in refused.content.decode()
    assert suppression(hard.email) == "bounced"

    done = owner_client.post(url, {"reason": "The mailbox was restored"}, follow=True)

    assert "may be mailed again" in done.content.decode()
    assert suppression(hard.email) is None
    hard.refresh_from_db()
    assert (hard.lifted_by, hard.lift_reason) == (owner, "The mailbox was restored")
    assert "The mailbox was restored" in done.content.decode()
    assert "Un-suppress ann@example.com" not in done.content.decode()  # nothing left to lift


def test_an_unsubscribe_is_not_lifted_from_the_bounces_page(owner_client, reported):
    hard, _ = reported
    Suppression.objects.filter(reason="bounced").update(reason="unsubscribed")

    page = owner_client.post(
        reverse("bounce_lift", args=[hard.pk]), {"reason": "please"}, follow=True
    ).content.decode()

    assert "because it was unsubscribed" in page
    assert suppression(hard.email) == "unsubscribed"


def test_a_lifted_address_soft_bouncing_again_starts_counting_afresh(reported, settings, owner):
    settings.POSTROOM_SOFT_BOUNCE_LIMIT = 2
    hard, _ = reported
    bounces.ingest_messages([sample("postfix_422_mailbox_full.eml", hard.email, n=5)], "t")
    lifts.lift(hard, owner, "restored")

    bounces.ingest_messages([sample("postfix_422_mailbox_full.eml", hard.email, n=6)], "t")
    assert suppression(hard.email) is None  # the forgiven soft bounce no longer counts


def test_the_mailbox_password_is_never_shown_back_and_empty_keeps_it(owner_client, db):
    form = {
        "name": "main", "protocol": "imap", "host": "imap.example.org", "port": "993",
        "tls": "tls", "verify_certificate": "on", "username": "bounces",
        "password": "s3cret-pass", "folder": "INBOX", "processed": "move",
        "move_to": "Processed", "interval_seconds": "300", "enabled": "on",
    }  # fmt: skip
    assert owner_client.post(reverse("mailbox_new"), form).status_code == 302
    box = BounceMailbox.objects.get()

    page = owner_client.get(reverse("mailbox_edit", args=[box.pk])).content.decode()
    listing = owner_client.get(reverse("bounces")).content.decode()
    owner_client.post(
        reverse("mailbox_edit", args=[box.pk]), {**form, "password": "", "port": "994"}
    )

    assert "s3cret-pass" not in page + listing
    box.refresh_from_db()
    assert (credentials.unseal(box.password), box.port) == ("s3cret-pass", 994)
    assert "s3cret-pass" not in box.password  # stored sealed


def test_a_mailbox_pop3_cannot_move_is_refused_with_the_reason(owner_client, db):
    form = {
        "name": "p", "protocol": "pop3", "host": "pop.example.org", "port": "995", "tls": "tls",
        "username": "u", "password": "p", "folder": "INBOX", "processed": "move",
        "move_to": "Processed", "interval_seconds": "300", "enabled": "on",
    }  # fmt: skip

    response = owner_client.post(reverse("mailbox_new"), form)

    assert response.status_code == 400
    assert "POP3 has no folders" in response.content.decode()
    assert not BounceMailbox.objects.exists()


def test_poll_now_reads_the_mailbox_and_says_what_it_found(
    owner_client, dovecot, mail_account, campaign, ann
):
    append(dovecot, mail_account, sample("postfix_550_user_unknown.eml", ann.email))
    box = mailbox(dovecot, mail_account, name="main")

    page = owner_client.post(reverse("mailbox_poll", args=[box.pk]), follow=True).content.decode()

    assert "“main”: 1 message(s), 1 bounce(s)" in page
    assert suppression(ann.email) == "bounced"
    BounceMailbox.objects.filter(pk=box.pk).update(password="wrong")
    page = owner_client.post(reverse("mailbox_poll", args=[box.pk]), follow=True).content.decode()
    assert "could not be read" in page and "failing" in page
    assert mailboxes.state(BounceMailbox.objects.get(pk=box.pk)) == "failing"
