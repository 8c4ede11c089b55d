"""SMTP and mailbox passwords typed into Postroom: sealed in the database, used for AUTH,
never shown back, and re-sealed by a key rotation."""

import pytest
from cryptography.fernet import Fernet
from django.urls import reverse

from postroom import credentials
from postroom.accounts import services
from postroom.delivery import senders
from postroom.delivery.models import Sender
from postroom.errors import ConfigurationError
from postroom.testing.smtpserver import CaptureServer
from postroom.tracking import mailboxes
from postroom.tracking.models import BounceMailbox

SECRET = "correct horse battery staple"


@pytest.fixture
def auth_server():
    server = CaptureServer(auth={"mailer": SECRET})
    server.start()
    yield server
    server.stop()


@pytest.mark.django_db
def test_a_typed_password_is_sealed_and_used_for_auth(auth_server):
    sender = senders.create_sender(
        name="relay", host=auth_server.host, port=auth_server.port, tls="none",
        username="mailer", password=SECRET,
    )  # fmt: skip
    stored = Sender.objects.get(pk=sender.pk).password_sealed
    assert stored.startswith("fernet:") and SECRET not in stored
    assert senders.test_sender(sender).ok
    assert senders.describe(sender)["password_set"] is True
    assert SECRET not in str(senders.describe(sender))


@pytest.mark.django_db
def test_a_wrong_password_fails_auth(auth_server):
    sender = senders.create_sender(
        name="relay", host=auth_server.host, port=auth_server.port, tls="none",
        username="mailer", password="not it",
    )  # fmt: skip
    report = senders.test_sender(sender)
    assert not report.ok and report.step == "auth"


def test_the_form_never_shows_the_password_and_empty_keeps_it(owner_client):
    owner_client.post(
        reverse("sender_new"),
        {"name": "relay", "host": "smtp.example.org", "port": 587, "tls": "starttls",
         "username": "me", "password": SECRET, "max_connections": 2},
    )  # fmt: skip
    sender = Sender.objects.get(name="relay")
    page = owner_client.get(reverse("sender_edit", args=[sender.pk])).content.decode()
    assert SECRET not in page and sender.password_sealed not in page
    assert "A password is stored (encrypted)" in page
    owner_client.post(
        reverse("sender_edit", args=[sender.pk]),
        {"name": "relay", "host": "smtp2.example.org", "port": 587, "tls": "starttls",
         "username": "me", "password": "", "max_connections": 2},
    )  # fmt: skip
    sender.refresh_from_db()
    assert sender.host == "smtp2.example.org"
    assert credentials.unseal(sender.password_sealed) == SECRET


@pytest.mark.django_db
def test_rotation_reseals_with_the_new_key_and_the_old_key_can_then_go(settings):
    old = settings.POSTROOM_CREDENTIALS_KEYS[0]
    sender = senders.create_sender(
        name="relay", host="h.example", port=25, tls="none", username="u", password=SECRET
    )
    box = mailboxes.create_mailbox(
        name="bounces", host="imap.example", username="b", password="mailbox pw"
    )
    new = Fernet.generate_key()
    settings.POSTROOM_CREDENTIALS_KEYS = [new, old]
    assert services.reseal_all() == 2
    settings.POSTROOM_CREDENTIALS_KEYS = [new]
    sender.refresh_from_db()
    assert credentials.unseal(sender.password_sealed) == SECRET
    assert credentials.unseal(BounceMailbox.objects.get(pk=box.pk).password) == "mailbox pw"
    settings.POSTROOM_CREDENTIALS_KEYS = [Fernet.generate_key()]
    with pytest.raises(ConfigurationError, match="cannot be opened"):
        credentials.unseal(sender.password_sealed)


@pytest.mark.django_db(transaction=True)
def test_the_cli_reads_a_password_from_stdin_and_never_prints_it(run_cli, subprocess_env):
    result = run_cli(
        "sender", "add", "relay", "--host", "h.example", "--port", "25", "--user", "u",
        "--password-stdin", "--json", env=subprocess_env, input=SECRET + "\n", stdin=None,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert SECRET not in result.stdout and '"password_set": true' in result.stdout
    assert credentials.unseal(Sender.objects.get(name="relay").password_sealed) == SECRET
