"""Bounces and complaints: realistic reports in, the right kind, suppression and ledger out."""

import json
import mailbox
from pathlib import Path
from string import Template

import pytest

from postroom.audience import services as audience
from postroom.audience.eligibility import mailable_subscribers
from postroom.audience.emails import email_hash
from postroom.audience.models import Subscription, Suppression
from postroom.campaigns.spec import compiled_for, recipient_for
from postroom.delivery.models import Delivery
from postroom.tracking import bounces
from postroom.tracking.models import Bounce

SAMPLES = Path(__file__).parent / "bounce_samples"


def sample(name: str, rcpt: str, message_id: str = "<nothing@example.org>", n: int = 1) -> bytes:
    text = (SAMPLES / name).read_text()
    values = {"RCPT": rcpt, "MESSAGE_ID": message_id, "BOUNCE_ID": f"b{n}"}
    return Template(text).substitute(values).replace("\n", "\r\n").encode()


def sent(campaign, subscriber) -> Delivery:
    """A ledger row as the worker leaves it, with the real Message-ID of the message."""
    message = compiled_for(campaign).build(recipient_for(subscriber))
    return Delivery.objects.create(
        campaign=campaign,
        subscriber=subscriber,
        email=subscriber.email,
        state=Delivery.State.SENT,
        message_id=message.message_id,
    )


def suppression(address: str) -> str | None:
    row = Suppression.objects.filter(email_hash=email_hash(address)).first()
    return row.reason if row else None


@pytest.fixture
def bob(news):
    return audience.add_subscriber("bob@example.com", name="Bob", lists=[news])


# --- parsing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind", "status", "words"),
    [
        ("postfix_550_user_unknown.eml", "hard", "5.1.1", "User unknown"),
        ("exim_550_user_unknown.eml", "hard", "5.1.1", "User unknown"),
        ("gmail_550_5_1_1.eml", "hard", "5.1.1", "does not exist"),
        ("postfix_422_mailbox_full.eml", "soft", "4.2.2", "Mailbox full"),
        ("arf_abuse_complaint.eml", "complaint", "", "abuse report from ExampleFBL/1.0"),
    ],
)
def test_each_report_is_read_as_the_right_kind(name, kind, status, words):
    [report] = bounces.parse(sample(name, "dana@example.com", "<7.42.abc@example.org>"))

    assert (report.kind, report.email, report.status) == (kind, "dana@example.com", status)
    assert words in report.reason
    assert report.message_id == "<7.42.abc@example.org>"


def test_a_delay_warning_is_not_a_bounce():
    assert bounces.parse(sample("postfix_delayed_warning.eml", "dana@example.com")) == []


def test_an_ordinary_message_is_not_a_bounce():
    raw = b"From: ann@example.com\r\nTo: news@example.org\r\nSubject: hi\r\n\r\nThanks!\r\n"
    assert bounces.parse(raw) == []


def test_a_message_id_is_ours_only_with_our_installation_tag(campaign, ann):
    delivery = sent(campaign, ann)

    assert bounces.our_ids(delivery.message_id) == (campaign.pk, ann.pk)
    assert bounces.our_ids(f"<{campaign.pk}.{ann.pk}.othertag@example.org>") is None
    assert bounces.our_ids("<random@example.org>") is None


def test_our_message_ids_are_recognised_whatever_the_secret_key(settings):
    from postroom.mail import mime
    from postroom.tracking.links import default_signer

    # A base64 tag once held "-" for about one secret key in eight, and then no
    # bounce ever matched a message of that installation.
    for n in range(64):
        settings.SECRET_KEY = f"secret number {n}"
        message_id = mime.message_id(7, 42, "example.org", default_signer().install_tag)
        assert bounces.our_ids(message_id) == (7, 42), settings.SECRET_KEY


# --- acting on them --------------------------------------------------------------------


def test_a_hard_bounce_suppresses_the_address_and_marks_the_delivery(campaign, ann, news):
    delivery = sent(campaign, ann)

    summary = bounces.ingest_messages(
        [sample("postfix_550_user_unknown.eml", ann.email, delivery.message_id)], "test"
    )

    assert (summary.hard, summary.suppressed, summary.messages) == (1, 1, 1)
    bounce = Bounce.objects.get()
    assert (bounce.kind, bounce.status, bounce.delivery_id) == ("hard", "5.1.1", delivery.pk)
    assert (bounce.campaign_id, bounce.subscriber_id) == (campaign.pk, ann.pk)
    assert suppression(ann.email) == "bounced"
    delivery.refresh_from_db()
    assert delivery.error.startswith("hard bounce 5.1.1: 550 5.1.1")
    assert delivery.state == Delivery.State.SENT  # it was accepted; the bounce came later
    assert not mailable_subscribers([news], None).filter(pk=ann.pk).exists()


@pytest.mark.parametrize("name", ["exim_550_user_unknown.eml", "gmail_550_5_1_1.eml"])
def test_other_formats_are_matched_through_the_quoted_message_id(name, campaign, ann):
    delivery = sent(campaign, ann)
    # The report names a forwarding address; the Message-ID says whom we mailed.
    raw = sample(name, "ann.forwarded@elsewhere.example", delivery.message_id)

    summary = bounces.ingest_messages([raw], "test")

    assert summary.hard == 1
    assert Bounce.objects.get().delivery_id == delivery.pk
    assert suppression(ann.email) == "bounced"
    assert suppression("ann.forwarded@elsewhere.example") is None


def test_without_a_message_id_the_recipients_latest_delivery_is_marked(campaign, ann, news):
    from postroom.campaigns import services

    older = sent(campaign, ann)
    second = services.create_campaign(
        name="Later", subject="s", from_email="news@example.org", body="b", lists=[news]
    )
    latest = sent(second, ann)

    bounces.ingest_messages([sample("postfix_550_user_unknown.eml", "Ann@Example.com")], "t")

    latest.refresh_from_db()
    older.refresh_from_db()
    assert latest.error.startswith("hard bounce") and older.error == ""
    assert Bounce.objects.get().campaign_id == second.pk


def test_soft_bounces_suppress_only_past_the_limit(campaign, ann, settings):
    settings.POSTROOM_SOFT_BOUNCE_LIMIT = 3
    delivery = sent(campaign, ann)

    def soft(n):
        raw = sample("postfix_422_mailbox_full.eml", ann.email, delivery.message_id, n)
        return bounces.ingest_messages([raw], "test")

    first, second = soft(1), soft(2)
    assert (first.soft, second.soft, first.suppressed + second.suppressed) == (1, 1, 0)
    assert suppression(ann.email) is None
    delivery.refresh_from_db()
    assert delivery.error.startswith("soft bounce 4.2.2")

    assert soft(3).suppressed == 1
    assert Suppression.objects.get(email_hash=ann.email_hash).source == "3 soft bounces"


def test_old_soft_bounces_do_not_count(campaign, ann, settings):
    from datetime import timedelta

    from django.utils import timezone

    settings.POSTROOM_SOFT_BOUNCE_LIMIT = 2
    settings.POSTROOM_SOFT_BOUNCE_DAYS = 7
    sent(campaign, ann)
    bounces.ingest_messages([sample("postfix_422_mailbox_full.eml", ann.email, n=1)], "t")
    Bounce.objects.update(at=timezone.now() - timedelta(days=8))

    bounces.ingest_messages([sample("postfix_422_mailbox_full.eml", ann.email, n=2)], "t")

    assert suppression(ann.email) is None


def test_a_complaint_suppresses_and_unsubscribes(campaign, ann):
    delivery = sent(campaign, ann)

    summary = bounces.ingest_messages(
        [sample("arf_abuse_complaint.eml", ann.email, delivery.message_id)], "test"
    )

    assert (summary.complaints, summary.suppressed) == (1, 1)
    assert suppression(ann.email) == "complained"
    assert set(ann.subscriptions.values_list("status", flat=True)) == {
        Subscription.Status.UNSUBSCRIBED
    }
    delivery.refresh_from_db()
    assert delivery.error == "complaint: abuse report from ExampleFBL/1.0"


def test_a_redacted_complaint_is_matched_by_its_message_id(campaign, ann):
    delivery = sent(campaign, ann)

    bounces.ingest_messages(
        [sample("arf_redacted_complaint.eml", ann.email, delivery.message_id)], "test"
    )

    assert Bounce.objects.get().email == ann.email
    assert suppression(ann.email) == "complained"
    assert suppression("redacted@redacted.invalid") is None


def test_the_same_report_twice_is_recorded_once(campaign, ann):
    raw = sample("postfix_550_user_unknown.eml", ann.email, sent(campaign, ann).message_id)

    summary = bounces.ingest_messages([raw, raw], "test")

    assert (summary.hard, summary.duplicates) == (1, 1)
    assert Bounce.objects.count() == 1


def test_a_bounce_for_an_unknown_address_is_kept_and_suppresses_it(db):
    bounces.ingest_messages([sample("postfix_550_user_unknown.eml", "nobody@example.com")], "t")

    bounce = Bounce.objects.get()
    assert (bounce.subscriber_id, bounce.delivery_id) == (None, None)
    assert suppression("nobody@example.com") == "bounced"
    with pytest.raises(audience.Suppressed):
        audience.add_subscriber("nobody@example.com")


def test_erasing_a_subscriber_erases_their_bounces_but_keeps_the_suppression(campaign, ann):
    bounces.ingest_messages([sample("postfix_550_user_unknown.eml", ann.email)], "t")

    audience.erase(ann)

    assert not Bounce.objects.exists()
    assert suppression("ann@example.com") == "bounced"


# --- sources: files, folders, stdin, the webhook ---------------------------------------


def write_mbox(path: Path, messages: list[bytes]) -> None:
    box = mailbox.mbox(path)
    for raw in messages:
        box.add(raw)
    box.close()


def test_messages_are_read_from_mbox_maildir_folders_and_single_files(tmp_path):
    raws = [sample("postfix_550_user_unknown.eml", f"u{i}@example.com") for i in range(3)]
    write_mbox(tmp_path / "bounces.mbox", raws)
    maildir = mailbox.Maildir(tmp_path / "Maildir")
    for raw in raws[:2]:
        maildir.add(raw)
    (tmp_path / "eml").mkdir()
    (tmp_path / "eml" / "one.eml").write_bytes(raws[0])

    def count(location):
        return len(list(bounces.messages_at(str(location))))

    assert count(tmp_path / "bounces.mbox") == 3
    assert count(tmp_path / "Maildir") == 2
    assert count(tmp_path / "eml") == 1
    assert count(tmp_path / "eml" / "one.eml") == 1
    [first] = bounces.messages_at(str(tmp_path / "eml" / "one.eml"))
    assert bounces.parse(first)[0].email == "u0@example.com"


@pytest.mark.django_db(transaction=True)
def test_the_cli_ingests_an_mbox_and_stdin(tmp_path, run_cli, subprocess_env, campaign, ann):
    delivery = sent(campaign, ann)
    mbox = tmp_path / "bounces.mbox"
    write_mbox(
        mbox,
        [
            sample("postfix_550_user_unknown.eml", ann.email, delivery.message_id),
            sample("postfix_delayed_warning.eml", ann.email),
        ],
    )

    result = run_cli("bounces", "ingest", str(mbox), "--json", env=subprocess_env)
    again = run_cli(
        "bounces",
        "ingest",
        "-",
        env=subprocess_env,
        stdin=None,
        input=sample("arf_abuse_complaint.eml", "zed@example.com").decode(),
    )
    missing = run_cli("bounces", "ingest", str(tmp_path / "nope"), env=subprocess_env)
    listed = run_cli("bounces", "list", "--json", env=subprocess_env)

    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["messages"] == 2 and data["hard"] == 1 and data["unrecognised"] == 1
    assert again.returncode == 0 and "1 complaint(s)" in again.stdout
    assert missing.returncode == 1
    assert missing.stderr.strip() == f"postroom: {tmp_path / 'nope'}: no such file or folder"
    assert {row["kind"] for row in json.loads(listed.stdout)} == {"hard", "complaint"}
    delivery.refresh_from_db()
    assert delivery.error.startswith("hard bounce 5.1.1")


def test_the_webhook_does_not_exist_without_a_token(client, settings, db):
    settings.POSTROOM_BOUNCE_TOKEN = ""
    raw = sample("postfix_550_user_unknown.eml", "ann@example.com")

    response = client.post("/webhooks/bounce", raw, content_type="message/rfc822")

    assert response.status_code == 404
    assert not Bounce.objects.exists()


def test_the_webhook_refuses_a_wrong_or_missing_token(client, settings, db):
    settings.POSTROOM_BOUNCE_TOKEN = "s3cret-token"
    raw = sample("postfix_550_user_unknown.eml", "ann@example.com")

    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cret"}):
        response = client.post(
            "/webhooks/bounce", raw, content_type="message/rfc822", headers=headers
        )
        assert response.status_code == 401
    assert not Bounce.objects.exists()


def test_the_webhook_ingests_a_raw_message(client, settings, campaign, ann):
    settings.POSTROOM_BOUNCE_TOKEN = "s3cret-token"
    delivery = sent(campaign, ann)
    raw = sample("gmail_550_5_1_1.eml", ann.email, delivery.message_id)
    auth = {"Authorization": "Bearer s3cret-token"}

    response = client.post("/webhooks/bounce", raw, content_type="message/rfc822", headers=auth)
    empty = client.post("/webhooks/bounce", b"", content_type="message/rfc822", headers=auth)
    get = client.get("/webhooks/bounce", headers=auth)

    assert response.status_code == 200
    assert response.json()["hard"] == 1
    assert suppression(ann.email) == "bounced"
    assert (empty.status_code, get.status_code) == (400, 405)
