"""DKIM signing: every signature is checked by dkimpy's own verifier, the reference."""

import json
import os
import re
import stat
from pathlib import Path

import dkim as dkimpy
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postroom.campaigns.models import Campaign
from postroom.cli import main
from postroom.delivery import control, progress, senders
from postroom.delivery.models import Delivery, Sender
from postroom.delivery.outgoing import send_now
from postroom.delivery.worker import DeliveryWorker
from postroom.mail.compose import CampaignSpec, Recipient, compile_campaign
from postroom.mail.dkim import Signer, generate_key_file, relaxed_body
from postroom.testing.smtpserver import CaptureServer
from postroom.tracking.links import default_signer
from tests.delivery.helpers import make_audience, make_campaign, run_until_settled, smtp_sender

REQUIRED = {
    "from", "to", "subject", "date", "message-id", "mime-version", "content-type",
    "list-unsubscribe", "list-unsubscribe-post", "list-id",
}  # fmt: skip


@pytest.fixture(scope="module")
def key_file(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("dkim") / "mail.pem")
    generate_key_file(path)
    return path


@pytest.fixture(scope="module")
def signer(key_file) -> Signer:
    return Signer.from_file("example.org", "pr1", key_file)


def verifies(message: bytes, signer: Signer) -> bool:
    """dkimpy's verdict, with DNS answered from the signer's own published record."""
    name, value = signer.dns_record()

    def dns(qname: bytes, timeout: int = 5) -> bytes | None:
        return value.encode() if qname.decode().rstrip(".") == name else None

    return dkimpy.verify(message, dnsfunc=dns)


def signed_names(message: bytes) -> list[str]:
    header = message.split(b"\r\n\r\n", 1)[0].decode()
    found = re.search(r"\bh=([^;]+);", header.replace("\r\n", ""))
    assert found is not None
    return [name.strip().lower() for name in found.group(1).split(":")]


def campaign_message(email: str = "ann@example.net", **spec) -> bytes:
    values = {
        "campaign_id": 7,
        "name": "Spring",
        "subject": "Grüße, {{ subscriber.first_name }} — ünïcödé news",
        "from_email": "news@example.org",
        "from_name": "Zoë's Newsletter",
        "body": "# Hello\n\n" + "A long paragraph of news for you. " * 300 + "\n\n. a dot line\n",
    }
    values.update(spec)
    compiled = compile_campaign(CampaignSpec(**values), default_signer())
    recipient = Recipient(1, email, "Ånn Smith-Jones, Jr.", {"first_name": "Ånn"})
    return compiled.build(recipient).data


# -- the signature itself -----------------------------------------------------------


def test_a_personalised_campaign_message_verifies_with_dkimpy(signer):
    message = campaign_message()
    assert len(message) > 10_000

    signed = signer.sign(message)

    assert signed.startswith(b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;")
    assert signed.endswith(message)
    assert verifies(signed, signer)


def test_it_signs_the_headers_rfc_8058_needs_and_reply_to_when_present(signer):
    without = signer.sign(campaign_message())
    with_reply_to = signer.sign(campaign_message(reply_to="desk@example.org"))

    assert set(signed_names(without)) >= REQUIRED
    assert "reply-to" not in signed_names(without)
    assert "reply-to" in signed_names(with_reply_to)
    assert verifies(with_reply_to, signer)


def test_a_recipient_with_a_non_ascii_local_part_verifies(signer):
    message = campaign_message("jörg@example.net")
    assert "jörg".encode() in message.split(b"\r\n\r\n")[0]  # raw UTF-8 header (SMTPUTF8)

    assert verifies(signer.sign(message), signer)


def test_folded_headers_tabs_trailing_space_and_dot_lines_verify(signer):
    message = (
        b"From: Ann <ann@example.org>\r\n"
        b"To: bob@example.net,\r\n\t carol@example.net\r\n"
        b"Subject:   spaced \t out\r\n   and folded  \r\n"
        b"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
        b"Message-ID: <1@example.org>\r\n"
        b"\r\n"
        b".leading dot\r\n"
        b"..two dots\r\n"
        b"tabs\there \t and  spaces   \r\n"
        b" \t \r\n"
        b".\r\n"
        b"last line\r\n"
        b"\r\n\r\n \r\n"
    )
    assert verifies(signer.sign(message), signer)


def test_a_message_with_bare_newlines_is_signed_as_it_will_be_sent(signer):
    message = b"From: a@example.org\nTo: b@example.net\nSubject: lf\n\nline one\nline two"

    signed = signer.sign(message)

    assert b"\n" not in signed.replace(b"\r\n", b"")
    assert signed.endswith(b"line one\r\nline two\r\n")
    assert verifies(signed, signer)


def test_a_long_body_verifies(signer):
    body = b"".join(b"line %d with some   text\t\r\n" % i for i in range(40_000))
    message = b"From: a@example.org\r\nTo: b@example.net\r\nSubject: big\r\n\r\n" + body
    assert len(message) > 1_000_000

    assert verifies(signer.sign(message), signer)


def test_an_empty_body_verifies(signer):
    assert relaxed_body(b"\r\n\r\n") == b""
    assert verifies(signer.sign(b"From: a@example.org\r\nSubject: x\r\n\r\n"), signer)
    assert verifies(signer.sign(b"From: a@example.org\r\nSubject: x\r\n"), signer)


def test_a_changed_body_or_subject_fails_verification(signer):
    signed = signer.sign(campaign_message())

    assert not verifies(signed.replace(b"A long paragraph", b"A LONG paragraph", 1), signer)
    head, body = signed.split(b"\r\n\r\n", 1)
    assert not verifies(re.sub(rb"Subject: [^\r]*", b"Subject: win a prize", head) + body, signer)


def test_an_added_from_or_unsubscribe_header_fails_verification(signer):
    signed = signer.sign(campaign_message())
    head, body = signed.split(b"\r\n\r\n", 1)

    for extra in (b"From: ceo@example.org", b"List-Unsubscribe: <https://evil.example/>"):
        assert not verifies(head + b"\r\n" + extra + b"\r\n\r\n" + body, signer)
    assert verifies(head + b"\r\nX-Added: by a relay\r\n\r\n" + body, signer)


_line = st.text(alphabet=st.sampled_from(list("ab. \t-=é")), min_size=0, max_size=40).filter(
    lambda s: "\r" not in s
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(lines=st.lists(_line, max_size=30), subject=_line)
def test_any_body_and_subject_verify(signer, lines, subject):
    body = "\r\n".join(lines).encode("utf-8")
    message = (
        b"From: a@example.org\r\nTo: b@example.net\r\nSubject: "
        + subject.strip().encode("utf-8")
        + b"\r\n\r\n"
        + body
    )
    assert verifies(signer.sign(message), signer)


def test_a_generated_key_is_private_readable_by_dkimpy_and_never_overwritten(tmp_path):
    path = tmp_path / "new.pem"
    generate_key_file(str(path), 1024)

    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    message = b"From: a@example.org\r\nSubject: x\r\n\r\nhi\r\n"
    header = dkimpy.sign(message, b"s", b"example.org", path.read_bytes())
    assert header.startswith(b"DKIM-Signature:")
    with pytest.raises(Exception, match="never overwritten"):
        generate_key_file(str(path))


# -- senders ----------------------------------------------------------------------


def dkim_fields(key_file: str) -> dict:
    return {"dkim_domain": "Example.ORG", "dkim_selector": "pr1", "dkim_key_file": key_file}


@pytest.mark.django_db
def test_a_sender_keeps_the_key_path_never_the_key(key_file):
    sender = senders.create_sender(
        name="relay", host="smtp.example.org", port=587, **dkim_fields(key_file)
    )

    assert sender.dkim_domain == "example.org"  # normalised
    shown = json.dumps(senders.describe(sender))
    assert key_file in shown
    assert "PRIVATE KEY" not in shown and "PRIVATE KEY" in Path(key_file).read_text()


@pytest.mark.django_db
def test_half_a_dkim_setup_or_an_unusable_key_is_refused(key_file, tmp_path):
    from postroom.errors import InvalidInput

    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a key")
    ec_key = tmp_path / "ec.pem"
    ec_key.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    bad = [
        ({"dkim_domain": "example.org"}, "needs a domain, a selector and a key file"),
        ({**dkim_fields(key_file), "dkim_selector": "no_underscores"}, "not a DKIM selector"),
        ({**dkim_fields(key_file), "dkim_domain": "localhost"}, "not a domain name"),
        ({**dkim_fields(str(tmp_path / "missing.pem"))}, "cannot be read"),
        ({**dkim_fields(str(garbage))}, "does not hold an unencrypted PEM private key"),
        ({**dkim_fields(str(ec_key))}, "is not an RSA key"),
    ]
    for fields, message in bad:
        with pytest.raises(InvalidInput, match=message):
            senders.create_sender(name="relay", host="smtp.example.org", port=587, **fields)
    assert not Sender.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_campaign_through_smtp_arrives_with_a_valid_signature(key_file, signer):
    with CaptureServer() as server:
        sender = smtp_sender(server, **dkim_fields(key_file))
        campaign = make_campaign(
            make_audience(12),
            sender=sender,
            subject="Grüße {{ subscriber.first_name }}",
            body="# Hi {{ subscriber.name }}\n\n" + "News, " * 2000 + "\n\n.dot first\n",
        )
        control.start(campaign)
        run_until_settled(campaign)

    assert campaign.status == Campaign.Status.FINISHED
    assert len(server.messages) == 12
    for received in server.messages:
        assert received.data.startswith(b"DKIM-Signature:")
        assert verifies(received.data, signer), received.rcpt_to
    assert set(Delivery.objects.filter(campaign=campaign).values_list("state", flat=True)) == {
        "sent"
    }


@pytest.mark.django_db(transaction=True)
def test_a_test_send_is_signed_too(key_file, signer):
    with CaptureServer() as server:
        sender = smtp_sender(server, **dkim_fields(key_file))
        compiled = compile_campaign(
            CampaignSpec(campaign_id=1, name="t", subject="Test", from_email="news@example.org"),
            default_signer(),
        )
        built = compiled.build(Recipient(1, "me@example.net", "Me"))

        [result] = send_now(sender, [built])

    assert result.outcome == "accepted"
    assert verifies(server.messages[0].data, signer)


@pytest.mark.django_db(transaction=True)
def test_a_missing_key_file_makes_the_campaign_wait_and_sends_nothing_unsigned(
    key_file, tmp_path, settings, signer
):
    settings.POSTROOM_SENDER_BACKOFF_SECONDS = 0.01
    moved = tmp_path / "moved.pem"
    moved.write_bytes(Path(key_file).read_bytes())
    with CaptureServer() as server:
        sender = smtp_sender(server, **dkim_fields(str(moved)))
        report = senders.test_sender(sender)
        assert report.ok, report.message
        campaign = make_campaign(make_audience(3), sender=sender)
        control.start(campaign)
        kept = moved.read_bytes()
        moved.unlink()

        worker = DeliveryWorker()
        for _ in range(5):
            worker.process_one_batch()
        failed_check = senders.test_sender(sender)
        campaign.refresh_from_db()
        waits = progress.summary(campaign)["waiting"]

        moved.write_bytes(kept)  # the key is back: it carries on by itself, signed
        run_until_settled(campaign, worker)

    assert waits is not None and "DKIM key file" in waits["error"]
    assert (failed_check.ok, failed_check.step) == (False, "dkim")
    assert campaign.status == Campaign.Status.FINISHED
    assert len(server.messages) == 3
    assert all(verifies(m.data, signer) for m in server.messages)


# -- the command line --------------------------------------------------------------------


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.django_db
def test_keygen_add_and_publish_from_the_command_line(capsys, tmp_path):
    key = str(tmp_path / "news.pem")
    code, out, err = run(capsys, "sender", "dkim-keygen", key, "--json")
    assert (code, err) == (0, "")
    generated = json.loads(out)
    assert generated["value"].startswith("v=DKIM1; k=rsa; p=")

    code, out, err = run(
        capsys, "sender", "add", "relay", "--host", "smtp.example.org", "--port", "587",
        "--dkim-domain", "example.org", "--dkim-selector", "news1", "--dkim-key-file", key,
        "--json",
    )  # fmt: skip
    assert (code, err) == (0, ""), err
    assert json.loads(out)["dkim_selector"] == "news1"

    code, out, err = run(capsys, "sender", "dkim", "relay", "--json")
    record = json.loads(out)
    assert record == {
        "name": "news1._domainkey.example.org",
        "type": "TXT",
        "value": generated["value"],
        "key_file": key,
    }
    code, out, err = run(capsys, "sender", "dkim", "relay")
    assert 'news1._domainkey.example.org. IN TXT "v=DKIM1; k=rsa; p=' in out

    # What the command says to publish is what verifies the mail.
    signer = Signer.from_file("example.org", "news1", key)
    assert signer.dns_record() == (record["name"], record["value"])
    assert verifies(signer.sign(b"From: a@example.org\r\n\r\nhi\r\n"), signer)


@pytest.mark.django_db
def test_dkim_can_be_changed_and_turned_off_from_the_command_line(capsys, key_file):
    senders.create_sender(name="relay", host="smtp.example.org", port=587)

    code, _, err = run(capsys, "sender", "dkim", "relay")
    assert code == 1 and "does not sign with DKIM" in err and "Traceback" not in err
    code, _, err = run(capsys, "sender", "dkim", "relay", "--domain", "example.org")
    assert code == 1 and "needs a domain, a selector and a key file" in err
    assert Sender.objects.get().dkim_domain == ""

    code, out, err = run(
        capsys, "sender", "dkim", "relay", "--domain", "example.org", "--selector", "s2",
        "--key-file", key_file,
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert "s2._domainkey.example.org." in out
    assert Sender.objects.get().dkim_selector == "s2"

    code, out, err = run(capsys, "sender", "dkim", "relay", "--off")
    assert (code, err) == (0, "")
    assert Sender.objects.get().dkim_domain == ""


def test_keygen_refuses_to_overwrite_a_file(capsys, key_file):
    before = Path(key_file).read_text()

    code, _, err = run(capsys, "sender", "dkim-keygen", key_file)

    assert code == 1 and "never overwritten" in err
    assert Path(key_file).read_text() == before


# -- the sender page ---------------------------------------------------------------------


@pytest.mark.django_db
def test_the_sender_page_sets_dkim_up_and_shows_the_record_never_the_key(owner_client, key_file):
    from django.urls import reverse

    form = {
        "name": "relay", "host": "smtp.example.org", "port": 587, "tls": "starttls",
        "max_connections": 3, "rates": "", "dkim_domain": "example.org",
        "dkim_selector": "pr1",
    }  # fmt: skip
    refused = owner_client.post(reverse("sender_new"), form)
    assert refused.status_code == 400
    assert "needs a domain, a selector and a key file" in refused.content.decode()
    assert not Sender.objects.exists()

    added = owner_client.post(reverse("sender_new"), {**form, "dkim_key_file": key_file})
    assert added.status_code == 302
    sender = Sender.objects.get()
    page = owner_client.get(reverse("sender_edit", args=[sender.pk])).content.decode()

    name, value = Signer.from_file("example.org", "pr1", key_file).dns_record()
    assert name in page and value in page and key_file in page
    assert "PRIVATE KEY" not in page
