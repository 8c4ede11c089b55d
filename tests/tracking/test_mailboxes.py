"""Bounce mailboxes against a real Dovecot: IMAP and POP3, TLS and STARTTLS, moved or deleted."""

import imaplib
import json
import ssl

import pytest
from django.utils import timezone

from postroom.audience import services as audience
from postroom.errors import InvalidInput
from postroom.tracking import mailboxes
from postroom.tracking.models import Bounce, BounceMailbox
from tests.tracking.test_bounces import sample, sent, suppression

NOT_A_BOUNCE = b"From: ann@example.com\r\nTo: bounces@example.org\r\nSubject: hi\r\n\r\nThanks!\r\n"


def imap_login(dovecot, account) -> imaplib.IMAP4:
    imap = imaplib.IMAP4_SSL(
        dovecot.host,
        dovecot.ports["imaps"],
        ssl_context=ssl.create_default_context(cafile=str(dovecot.cert_path)),
    )
    imap.login(*account)
    return imap


def append(dovecot, account, *messages: bytes, folder: str = "INBOX") -> None:
    imap = imap_login(dovecot, account)
    for raw in messages:
        status, _ = imap.append(folder, None, None, raw)
        assert status == "OK"
    imap.logout()


def count(dovecot, account, folder: str) -> int:
    imap = imap_login(dovecot, account)
    status, data = imap.select(f'"{folder}"', readonly=True)
    imap.logout()
    return int(data[0]) if status == "OK" else -1


def mailbox(dovecot, account, protocol="imap", tls="starttls", **fields) -> BounceMailbox:
    port = dovecot.ports[protocol + ("s" if tls == "tls" else "")]
    return mailboxes.create_mailbox(
        name=fields.pop("name", f"{protocol}-{tls}-{account[0]}"),
        protocol=protocol,
        host=dovecot.host,
        port=port,
        tls=tls,
        username=account[0],
        password=account[1],
        **fields,
    )


@pytest.fixture
def bob(news):
    return audience.add_subscriber("bob@example.com", name="Bob", lists=[news])


@pytest.mark.parametrize("tls", ["starttls", "tls"])
def test_an_imap_poll_records_each_report_and_moves_what_it_read(
    tls, dovecot, mail_account, campaign, ann, bob
):
    delivery = sent(campaign, ann)
    append(
        dovecot,
        mail_account,
        sample("postfix_550_user_unknown.eml", ann.email, delivery.message_id),
        sample("arf_abuse_complaint.eml", bob.email, n=2),
        NOT_A_BOUNCE,
    )
    box = mailbox(dovecot, mail_account, tls=tls)

    summary = mailboxes.poll(box)

    assert (summary.messages, summary.hard, summary.complaints, summary.unrecognised) == (
        3,
        1,
        1,
        1,
    )
    assert suppression(ann.email) == "bounced"
    assert suppression(bob.email) == "complained"
    assert Bounce.objects.get(email=ann.email).source == f"mailbox:{box.name}"
    assert "Final-Recipient: rfc822; ann@example.com" in Bounce.objects.get(email=ann.email).raw
    assert count(dovecot, mail_account, "INBOX") == 0
    assert count(dovecot, mail_account, "Processed") == 3
    box.refresh_from_db()
    assert (box.last_messages, box.total_messages, box.last_error) == (3, 3, "")
    assert mailboxes.state(box) == "ok"
    assert box.next_poll_at > timezone.now()


def test_an_imap_mailbox_can_delete_what_it_read(dovecot, mail_account, campaign, ann):
    append(dovecot, mail_account, sample("postfix_550_user_unknown.eml", ann.email))
    box = mailbox(dovecot, mail_account, tls="tls", processed="delete")

    assert mailboxes.poll(box).hard == 1

    assert count(dovecot, mail_account, "INBOX") == 0
    assert count(dovecot, mail_account, "Processed") == -1  # never created
    assert suppression(ann.email) == "bounced"


def test_a_folder_other_than_the_inbox_can_be_read(dovecot, mail_account, campaign, ann):
    imap = imap_login(dovecot, mail_account)
    imap.create("Bounces")
    imap.logout()
    append(
        dovecot, mail_account, sample("postfix_550_user_unknown.eml", ann.email), folder="Bounces"
    )
    append(dovecot, mail_account, NOT_A_BOUNCE)
    box = mailbox(dovecot, mail_account, folder="Bounces", move_to="Bounces/Done")

    assert mailboxes.poll(box).hard == 1

    assert count(dovecot, mail_account, "Bounces") == 0
    assert count(dovecot, mail_account, "Bounces/Done") == 1
    assert count(dovecot, mail_account, "INBOX") == 1  # not the folder it was told to read


@pytest.mark.parametrize("tls", ["starttls", "tls"])
def test_a_pop3_poll_records_the_reports_and_deletes_them(
    tls, dovecot, mail_account, campaign, ann, bob
):
    append(
        dovecot,
        mail_account,
        sample("postfix_550_user_unknown.eml", ann.email),
        sample("exim_550_user_unknown.eml", bob.email, n=2),
    )
    box = mailbox(dovecot, mail_account, protocol="pop3", tls=tls, processed="delete")

    summary = mailboxes.poll(box)

    assert (summary.messages, summary.hard) == (2, 2)
    assert suppression(ann.email) == suppression(bob.email) == "bounced"
    assert count(dovecot, mail_account, "INBOX") == 0


def test_reading_a_mailbox_again_records_nothing_twice(dovecot, mail_account, campaign, ann):
    raw = sample("postfix_550_user_unknown.eml", ann.email)
    append(dovecot, mail_account, raw)
    box = mailbox(dovecot, mail_account)
    mailboxes.poll(box)
    append(dovecot, mail_account, raw)  # a copy left behind by a worker killed before the move

    summary = mailboxes.poll(box)

    assert (summary.messages, summary.duplicates, summary.bounces) == (1, 1, 0)
    assert Bounce.objects.count() == 1


def test_a_wrong_password_is_on_record_and_leaves_the_mail_where_it_is(
    dovecot, mail_account, campaign, ann
):
    append(dovecot, mail_account, sample("postfix_550_user_unknown.eml", ann.email))
    box = mailbox(dovecot, mail_account)
    box.password = "not-the-password"
    box.save()

    with pytest.raises(mailboxes.MailboxError, match="uthentication failed"):
        mailboxes.poll(box)

    box.refresh_from_db()
    assert "authentication failed" in box.last_error.lower()
    assert mailboxes.state(box) == "failing"
    assert box.next_poll_at <= timezone.now() + mailboxes.RETRY_AFTER
    assert count(dovecot, mail_account, "INBOX") == 1
    assert suppression(ann.email) is None

    box.password = mail_account[1]
    box.save()
    mailboxes.poll(box)
    box.refresh_from_db()
    assert mailboxes.state(box) == "ok"  # the success is newer than the error


def test_a_certificate_nobody_trusts_is_refused(db, dovecot, mail_account, settings):
    settings.POSTROOM_TLS_CA_FILE = ""
    box = mailbox(dovecot, mail_account, tls="tls")

    with pytest.raises(mailboxes.MailboxError, match="TLS certificate not trusted"):
        mailboxes.poll(box)


def test_a_server_that_is_not_there_is_an_error_not_a_crash(db, settings):
    from postroom.testing.dovecot import _free_port

    box = mailboxes.create_mailbox(
        name="gone", host="127.0.0.1", port=_free_port(), tls="none", username="u", password="p"
    )

    with pytest.raises(mailboxes.MailboxError, match="connection refused"):
        mailboxes.poll(box)


def test_the_worker_step_polls_a_due_mailbox_once_until_its_interval_passes(
    dovecot, mail_account, campaign, ann
):
    append(dovecot, mail_account, sample("postfix_550_user_unknown.eml", ann.email))
    box = mailbox(dovecot, mail_account, interval_seconds=600)

    assert mailboxes.poll_due() is True
    assert mailboxes.poll_due() is False  # not due again for ten minutes
    assert suppression(ann.email) == "bounced"

    BounceMailbox.objects.filter(pk=box.pk).update(next_poll_at=timezone.now())
    BounceMailbox.objects.filter(pk=box.pk).update(enabled=False)
    assert mailboxes.poll_due() is False  # switched off


def test_a_mailbox_another_worker_is_polling_is_left_alone(db):
    box = mailboxes.create_mailbox(name="busy", host="127.0.0.1", username="u", password="p")
    assert mailboxes.claim_due().pk == box.pk

    assert mailboxes.claim_due() is None


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"protocol": "pop3", "processed": "move"}, "POP3 has no folders"),
        ({"move_to": "INBOX"}, "must differ"),
        ({"interval_seconds": 1}, "10 seconds"),
        ({"host": ""}, "host"),
    ],
)
def test_a_mailbox_that_could_never_work_is_refused(db, fields, words):
    base = {"name": "m", "host": "mail.example.org", "username": "u", "password": "p"}

    with pytest.raises(InvalidInput, match=words):
        mailboxes.create_mailbox(**{**base, **fields})

    assert not BounceMailbox.objects.exists()


def test_the_description_never_holds_the_password(db):
    box = mailboxes.create_mailbox(name="m", host="h.example", username="u", password="s3cret-pw")

    described = mailboxes.describe(box)

    assert "s3cret-pw" not in repr(described)
    assert described["password_set"] is True
    assert (described["port"], described["state"]) == (993, "never polled")


def test_the_cli_adds_a_mailbox_polls_it_and_never_prints_the_password(
    dovecot, mail_account, subprocess_env, run_cli, campaign, ann
):
    append(dovecot, mail_account, sample("postfix_550_user_unknown.eml", ann.email))
    env = {
        **subprocess_env,
        "BOUNCE_PW": mail_account[1],
        "POSTROOM_TLS_CA_FILE": str(dovecot.cert_path),
    }
    added = run_cli(
        "bounces", "mailbox-add", "main", "--host", dovecot.host,
        "--port", str(dovecot.ports["pop3s"]), "--protocol", "pop3", "--user", mail_account[0],
        "--password-env", "BOUNCE_PW", "--json", env=env,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["processed"] == "delete"  # POP3's only way

    polled = run_cli("bounces", "poll", "--json", env=env)
    listed = run_cli("bounces", "mailboxes", "--json", env=env)

    assert polled.returncode == 0, polled.stderr
    assert json.loads(polled.stdout)[0]["hard"] == 1
    assert suppression(ann.email) == "bounced"
    [info] = json.loads(listed.stdout)
    assert (info["state"], info["total_messages"], info["password_set"]) == ("ok", 1, True)
    assert mail_account[1] not in added.stdout + polled.stdout + listed.stdout


def test_the_cli_refuses_a_missing_password_in_one_line(subprocess_env, run_cli):
    result = run_cli(
        "bounces", "mailbox-add", "m", "--host", "h.example", "--user", "u",
        "--password-env", "NOT_SET_ANYWHERE", env=subprocess_env,
    )  # fmt: skip

    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "postroom: the environment variable NOT_SET_ANYWHERE is empty or not set"
    ]
    assert not BounceMailbox.objects.exists()


def test_a_failing_poll_from_the_cli_exits_non_zero_with_the_reason(
    dovecot, mail_account, subprocess_env, run_cli
):
    mailbox(dovecot, mail_account, name="bad").__class__.objects.update(password="wrong")

    result = run_cli(
        "bounces",
        "poll",
        "bad",
        env={**subprocess_env, "POSTROOM_TLS_CA_FILE": str(dovecot.cert_path)},
    )

    assert result.returncode == 1
    assert "bad: failed:" in result.stdout and "uthentication failed" in result.stdout


def test_an_idle_worker_polls_a_due_mailbox_by_itself(
    dovecot, mail_account, subprocess_env, run_cli, campaign, ann
):
    append(dovecot, mail_account, sample("postfix_550_user_unknown.eml", ann.email))
    box = mailbox(dovecot, mail_account, tls="tls")
    env = {**subprocess_env, "POSTROOM_TLS_CA_FILE": str(dovecot.cert_path)}

    worker = run_cli("worker", "--until-idle", env=env, timeout=120)

    assert worker.returncode == 0, worker.stderr
    assert suppression(ann.email) == "bounced"
    box.refresh_from_db()
    assert (mailboxes.state(box), box.total_messages) == ("ok", 1)
    assert count(dovecot, mail_account, "Processed") == 1
