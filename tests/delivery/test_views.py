"""The delivery screens: senders, outbox, live panel and controls, delivery log, dashboard."""

import pytest
from django.urls import reverse

from postroom.campaigns.models import Campaign
from postroom.delivery import control
from postroom.delivery.models import Delivery, OutboxMessage, Sender
from postroom.testing.smtpserver import CaptureServer
from tests.delivery.helpers import make_audience, make_campaign, run_until_idle

pytestmark = pytest.mark.django_db


def test_every_delivery_page_is_for_operators_only(client, outsider):
    campaign = make_campaign(make_audience(1))
    urls = [
        reverse("senders"),
        reverse("sender_new"),
        reverse("outbox"),
        reverse("campaign_delivery_panel", args=[campaign.pk]),
        reverse("campaign_deliveries", args=[campaign.pk]),
        reverse("campaign_deliveries_csv", args=[campaign.pk]),
        reverse("campaign_threshold", args=[campaign.pk]),
    ]
    for url in urls:
        assert client.get(url).status_code == 302, url
    client.force_login(outsider)
    for url in urls:
        assert client.get(url).status_code == 403, url
    response = client.post(reverse("campaign_control", args=[campaign.pk, "start"]))
    assert response.status_code == 403
    assert not Delivery.objects.exists()
    threshold = {"error_threshold_percent": 90, "error_window": 50}
    response = client.post(reverse("campaign_threshold", args=[campaign.pk]), threshold)
    assert response.status_code == 403
    campaign.refresh_from_db()
    assert campaign.error_threshold_percent == 20


def test_a_sender_is_added_and_its_password_never_shown(owner_client, monkeypatch):
    monkeypatch.setenv("POSTROOM_SMTP_PW", "s3cret-pass")
    response = owner_client.post(
        reverse("sender_new"),
        {
            "name": "relay", "host": "smtp.example.org", "port": 587, "tls": "starttls",
            "verify_certificate": "on", "username": "me", "password_env": "POSTROOM_SMTP_PW",
            "max_connections": 3, "rates": "10/second, 35/hour",
        },
    )  # fmt: skip
    assert response.status_code == 302
    sender = Sender.objects.get(name="relay")
    page = owner_client.get(reverse("senders")).content.decode()
    assert "35/hour" in page and "s3cret-pass" not in page
    edit = owner_client.get(reverse("sender_edit", args=[sender.pk])).content.decode()
    assert "POSTROOM_SMTP_PW" in edit and "s3cret-pass" not in edit


def test_a_bad_sender_form_says_why_and_stores_nothing(owner_client):
    response = owner_client.post(
        reverse("sender_new"),
        {"name": "x", "host": "h", "port": 25, "tls": "none", "max_connections": 1,
         "rates": "lots"},
    )  # fmt: skip
    assert response.status_code == 400
    assert not Sender.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_test_connection_reports_success_or_the_failing_step(owner_client):
    with CaptureServer() as server:
        sender = Sender.objects.create(name="relay", host=server.host, port=server.port, tls="none")
        ok = owner_client.post(reverse("sender_test", args=[sender.pk]), follow=True)
        assert "connected to" in ok.content.decode()
    failed = owner_client.post(reverse("sender_test", args=[sender.pk]), follow=True)
    assert "connect failed" in failed.content.decode()


def test_start_pause_resume_from_the_campaign_panel(owner_client):
    campaign = make_campaign(make_audience(3))
    url = reverse("campaign_control", args=[campaign.pk, "start"])
    assert owner_client.post(url).status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.RUNNING
    panel = owner_client.get(reverse("campaign_delivery_panel", args=[campaign.pk]))
    html = panel.content.decode()
    assert "Pause" in html and "every 3s" in html
    assert "no worker is running" in html

    owner_client.post(reverse("campaign_control", args=[campaign.pk, "pause"]))
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.PAUSED
    again = owner_client.post(reverse("campaign_control", args=[campaign.pk, "pause"]), follow=True)
    assert "cannot be paused" in again.content.decode()
    owner_client.post(reverse("campaign_control", args=[campaign.pk, "resume"]))
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.RUNNING


def test_the_campaign_page_includes_the_live_panel(owner_client):
    campaign = make_campaign(make_audience(2))
    page = owner_client.get(reverse("campaign_detail", args=[campaign.pk])).content.decode()
    assert reverse("campaign_delivery_panel", args=[campaign.pk]) in page


@pytest.mark.django_db(transaction=True)
def test_the_delivery_log_filters_searches_pages_and_exports(owner_client):
    campaign = make_campaign(make_audience(130))
    control.start(campaign)
    run_until_idle()
    # The log pages in ledger order; the ledger's ids follow no particular address order.
    rows = Delivery.objects.filter(campaign=campaign).order_by("id")
    bounced, other = rows[0].email, rows[1].email
    rows.filter(email=bounced).update(state="failed", error="550 <b>no such user</b>")
    url = reverse("campaign_deliveries", args=[campaign.pk])
    first = owner_client.get(url).content.decode()
    assert first.count('<span class="badge sent">') == 99  # and the first row, failed
    assert "Next 100" in first
    failed = owner_client.get(url, {"state": "failed"}).content.decode()
    assert bounced in failed and other not in failed
    assert "&lt;b&gt;no such user&lt;/b&gt;" in failed
    found = owner_client.get(url, {"q": "user12"}).content.decode()
    assert "user12@example.net" in found and "user13@" not in found

    csv_response = owner_client.get(reverse("campaign_deliveries_csv", args=[campaign.pk]))
    body = b"".join(csv_response.streaming_content).decode()
    assert body.splitlines()[0].startswith("email,state,sent_at")
    assert len(body.splitlines()) == 131


@pytest.mark.django_db(transaction=True)
def test_outbox_shows_a_captured_message_safely(owner_client):
    campaign = make_campaign(make_audience(1), body="<b>Bold</b> <script>alert(1)</script>")
    control.start(campaign)
    run_until_idle()
    message = OutboxMessage.objects.get(campaign=campaign)
    listing = owner_client.get(reverse("outbox")).content.decode()
    assert "user0@example.net" in listing
    detail = owner_client.get(reverse("outbox_message", args=[message.pk])).content.decode()
    assert 'sandbox=""' in detail
    assert "<script>alert(1)</script>" not in detail
    raw = owner_client.get(reverse("outbox_raw", args=[message.pk]))
    assert raw["Content-Type"] == "message/rfc822"


@pytest.mark.django_db(transaction=True)
def test_the_dashboard_shows_progress_stalls_and_auto_pauses(owner_client):
    running = make_campaign(make_audience(4), name="Running one")
    control.start(running)
    paused = make_campaign(make_audience(2, list_name="other"), name="Broken one")
    control.start(paused)
    control.auto_pause(paused.pk, "12 of the last 20 recipients failed permanently")

    page = owner_client.get(reverse("dashboard")).content.decode()
    assert "Running one" in page
    assert "no worker is running" in page
    assert "Campaign “Broken one” paused itself</strong>: 12 of the last 20 recipients" in page
    fragment = owner_client.get(reverse("dashboard"), HTTP_HX_REQUEST="true").content.decode()
    assert fragment.lstrip().startswith('<div id="dashboard-live"')


@pytest.mark.django_db(transaction=True)
def test_a_subscribers_page_lists_their_deliveries(owner_client):
    campaign = make_campaign(make_audience(2), name="March letter")
    control.start(campaign)
    run_until_idle()
    subscriber = Delivery.objects.filter(campaign=campaign).first().subscriber
    page = owner_client.get(reverse("subscriber_detail", args=[subscriber.pk])).content.decode()
    assert reverse("subscriber_deliveries", args=[subscriber.pk]) in page
    rows = owner_client.get(reverse("subscriber_deliveries", args=[subscriber.pk])).content.decode()
    assert "March letter" in rows and "sent" in rows


def test_a_bad_error_threshold_is_refused_with_the_reason_and_changes_nothing(owner_client):
    campaign = make_campaign(make_audience(1))
    url = reverse("campaign_threshold", args=[campaign.pk])
    response = owner_client.post(url, {"error_threshold_percent": 0, "error_window": 50})
    assert response.status_code == 400
    assert "greater than or equal to 1" in response.content.decode()
    campaign.refresh_from_db()
    assert (campaign.error_threshold_percent, campaign.error_window) == (20, 200)

    response = owner_client.post(url, {"error_threshold_percent": 40, "error_window": 50})
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert (campaign.error_threshold_percent, campaign.error_window) == (40, 50)
