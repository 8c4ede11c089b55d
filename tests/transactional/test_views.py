"""The Transactional pages: the log with its filters and replies, one message, templates."""

import pytest

from postroom.accounts.models import Role
from postroom.transactional import services
from postroom.transactional.models import TxTemplate
from tests.delivery.helpers import run_until_idle

pytestmark = pytest.mark.django_db(transaction=True)


def queue(to: str, subject: str = "Receipt") -> int:
    request = services.TxRequest(
        to=[to],
        subject=subject,
        body="Thanks <b>{{ data.x }}</b>",
        data={"x": "<script>"},
        from_address="shop@example.org",
    )
    return services.accept(request).messages[0].pk


def test_the_log_filters_by_status_and_recipient_and_shows_the_reply(owner_client):
    sent = queue("ada@example.net", "Your <receipt>")
    run_until_idle()
    waiting = queue("bob@example.net")

    page = owner_client.get("/transactional/").content.decode()
    assert "ada@example.net" in page and "bob@example.net" in page
    assert "250 stored in the outbox" in page
    assert "Your &lt;receipt&gt;" in page and "Your <receipt>" not in page

    queued = owner_client.get("/transactional/?status=queued").content.decode()
    assert "bob@example.net" in queued and "ada@example.net" not in queued
    found = owner_client.get("/transactional/?q=ada").content.decode()
    assert "ada@example.net" in found and "bob@example.net" not in found

    detail = owner_client.get(f"/transactional/{sent}/").content.decode()
    assert "250 stored in the outbox" in detail and "&lt;script&gt;" in detail
    assert owner_client.get(f"/transactional/{waiting + 100}/").status_code == 404


def test_templates_are_made_checked_and_numbered(owner_client):
    bad = owner_client.post("/transactional/templates/new/", {
        "name": "reset", "subject": "Code", "body_format": "html",
        "body": "<p>{{ data.code </p>", "from_address": "",
    })  # fmt: skip
    assert bad.status_code == 400 and "body, line 1" in bad.content.decode()
    assert not TxTemplate.objects.exists()

    made = owner_client.post("/transactional/templates/new/", {
        "name": "reset", "subject": "Code", "body_format": "html",
        "body": "<p>{{ data.code }}</p>", "from_address": "Accounts <accounts@example.org>",
    })  # fmt: skip
    template = TxTemplate.objects.get()
    assert made.status_code == 302 and (template.from_name, template.from_email) == (
        "Accounts", "accounts@example.org"
    )  # fmt: skip
    listing = owner_client.get("/transactional/templates/").content.decode()
    assert "reset" in listing and f">{template.pk}<" in listing
    edit = owner_client.get(f"/transactional/templates/{template.pk}/").content.decode()
    assert f'"template_id": {template.pk}' in edit
    owner_client.post(f"/transactional/templates/{template.pk}/delete/")
    assert not TxTemplate.objects.exists()


def test_a_viewer_reads_the_log_but_cannot_change_templates(client, make_user):
    client.force_login(make_user("vera", Role.VIEWER))
    assert client.get("/transactional/").status_code == 200
    assert client.get("/transactional/templates/").status_code == 200
    refused = client.post("/transactional/templates/new/", {"name": "x"})
    assert refused.status_code == 403
    assert not TxTemplate.objects.exists()
