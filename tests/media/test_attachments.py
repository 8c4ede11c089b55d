"""Attachments from the library: chosen on the campaign form and sent with every message
through a real SMTP server; attached by id to a transactional message over the API."""

import email
from email import policy

import pytest
from django.urls import reverse

from postroom.api.models import ApiToken
from postroom.campaigns import services as campaigns
from postroom.campaigns.models import Campaign
from postroom.delivery import control
from postroom.media import services
from postroom.testing.smtpserver import CaptureServer
from tests.campaigns.test_views import form_data
from tests.delivery.helpers import make_audience, run_until_idle, run_until_settled, smtp_sender

pytestmark = pytest.mark.django_db(transaction=True)  # the worker sends in its own transactions
PDF = b"%PDF-1.4\n% spring prices\n" + bytes(range(256)) * 40


@pytest.fixture
def smtp():
    with CaptureServer() as server:
        yield server


def _parsed(received) -> email.message.EmailMessage:
    return email.message_from_bytes(received.data, policy=policy.default)


def test_a_campaign_sends_its_attachment_with_every_message(owner_client, smtp, media_dir):
    leaflet = services.upload("Prix été.pdf", PDF, image=False)
    news = make_audience(3)
    sender = smtp_sender(smtp)
    answer = owner_client.post(
        reverse("campaign_new"),
        form_data(news, sender=sender.pk, **{"attach-attached": [leaflet.pk]}),
    )
    assert answer.status_code == 302, answer.content.decode()[:2000]
    campaign = Campaign.objects.get(name="Autumn")
    assert [a.media_id for a in campaign.attachments.all()] == [leaflet.pk]

    control.start(campaign)
    run_until_settled(campaign)

    received = smtp.wait_for(3)
    assert len(received) == 3
    for message in map(_parsed, received):
        assert message.get_content_type() == "multipart/mixed"
        [part] = list(message.iter_attachments())
        assert part.get_filename() == "Prix été.pdf"  # RFC 2231, decoded back
        assert part.get_content_type() == "application/pdf"
        assert part.get_content() == PDF
        body = message.get_body(("html", "plain"))
        assert body is not None and "Hello" in body.get_content()


def test_the_editor_shows_the_library_files_and_keeps_the_choice(owner_client, media_dir):
    leaflet = services.upload("leaflet.pdf", PDF, image=False)
    news = make_audience(1)
    owner_client.post(reverse("campaign_new"), form_data(news, **{"attach-attached": [leaflet.pk]}))
    campaign = Campaign.objects.get(name="Autumn")
    page = owner_client.get(reverse("campaign_edit", args=[campaign.pk])).content.decode()
    assert (
        "leaflet.pdf" in page and "checked" in page.split("leaflet.pdf")[0].rsplit("<label", 1)[1]
    )
    assert 'data-media-picker="media-picker-dialog"' in page


def test_attachments_over_the_total_are_refused_with_the_sizes_and_nothing_is_saved(
    owner_client, media_dir
):
    big = [
        services.upload(f"part{i}.pdf", b"%PDF-" + b"0" * 5_600_000, image=False) for i in (1, 2)
    ]
    news = make_audience(1)
    answer = owner_client.post(
        reverse("campaign_new"), form_data(news, **{"attach-attached": [m.pk for m in big]})
    )
    assert answer.status_code == 400
    assert "the attachments come to 10.7 MB: at most 10.0 MB in one message" in (
        answer.content.decode()
    )
    assert not Campaign.objects.filter(name="Autumn").exists()


def test_a_transactional_message_attaches_a_library_file_by_id(client, owner, smtp, media_dir):
    leaflet = services.upload("terms.pdf", PDF, image=False)
    smtp_sender(smtp)
    _, secret = ApiToken.issue(owner, "shop")
    answer = client.post(
        "/api/tx",
        {
            "to": "ada@example.net", "subject": "Your order", "body": "Terms attached.",
            "from": "shop@example.org",
            "attachments": [{"media_id": leaflet.pk},
                            {"media_id": leaflet.pk, "filename": "AGB.pdf"}],
        },
        "application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )  # fmt: skip
    assert answer.status_code == 202, answer.content

    run_until_idle()

    [message] = map(_parsed, smtp.wait_for(1))
    parts = [(p.get_filename(), p.get_content()) for p in message.iter_attachments()]
    assert parts == [("terms.pdf", PDF), ("AGB.pdf", PDF)]


@pytest.mark.parametrize(
    ("attachment", "code", "says"),
    [
        ({"media_id": 987654}, 404, "no media file with id 987654"),
        ({"filename": "a.pdf"}, 400, "either `content` (base64) or `media_id`"),
    ],
)
def test_a_bad_library_attachment_is_refused(client, owner, media_dir, attachment, code, says):
    _, secret = ApiToken.issue(owner, "shop")
    answer = client.post(
        "/api/tx",
        {"to": "ada@example.net", "subject": "S", "body": "B", "attachments": [attachment]},
        "application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert answer.status_code == code and says in answer.json()["detail"]


def test_a_duplicate_attaches_the_same_files(media_dir):
    leaflet = services.upload("leaflet.pdf", PDF, image=False)
    original = campaigns.create_campaign(
        name="Spring", subject="S", body="B", from_email="news@example.org"
    )
    services.set_campaign_attachments(original, [leaflet.pk])
    copy = campaigns.duplicate_campaign(original)
    assert [a.media_id for a in copy.attachments.all()] == [leaflet.pk]
