"""The screens say what is true: what a cancelled campaign sent, no rate while paused,
stalled and waiting as their own states, one alert per auto-paused campaign, copies
with names of their own, the campaigns list's figures, the sender form in groups,
decoded subjects, and an import that creates its list and keeps its file."""

import re
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from postroom.alerts.models import Alert
from postroom.audience.models import MailingList
from postroom.campaigns.models import Campaign
from postroom.delivery import control
from postroom.delivery.models import CampaignRun, Delivery, OutboxMessage, Sender, Worker
from postroom.imports.models import Import
from postroom.tracking.models import EngagementEvent
from tests.delivery.helpers import make_audience, make_campaign

pytestmark = pytest.mark.django_db


def panel(client, campaign: Campaign) -> str:
    return client.get(reverse("campaign_delivery_panel", args=[campaign.pk])).content.decode()


def sent(campaign: Campaign, count: int) -> None:
    ids = Delivery.objects.filter(campaign=campaign).order_by("id").values_list("id", flat=True)
    Delivery.objects.filter(pk__in=list(ids[:count])).update(state=Delivery.State.SENT)


def alive_worker() -> None:
    from django.utils import timezone

    Worker.objects.create(id="w-test", host="here", pid=1, last_seen=timezone.now())


def test_a_cancelled_campaign_shows_what_was_sent_not_a_full_bar(owner_client):
    campaign = make_campaign(make_audience(40), name="December newsletter")
    control.start(campaign)
    sent(campaign, 3)
    control.cancel(campaign)

    page = panel(owner_client, campaign)
    assert "Cancelled: 3 of 40 sent; 37 not sent" in page
    assert "40 of 40 done" not in page
    assert 'aria-valuenow="8"' in page  # 3 of 40, not 100


def test_a_paused_campaign_shows_no_rate(owner_client):
    campaign = make_campaign(make_audience(10))
    control.start(campaign)
    alive_worker()
    CampaignRun.objects.update_or_create(
        campaign=campaign, defaults={"rate": 12.5, "last_progress": time.time()}
    )
    assert "12.5 messages/s" in panel(owner_client, campaign)  # while it runs

    control.pause(campaign)
    page = panel(owner_client, campaign)
    assert "messages/s" not in page and "· paused" in page
    dashboard = owner_client.get(reverse("dashboard")).content.decode()
    assert "12.5" not in dashboard


def test_stalled_and_waiting_are_their_own_states_on_every_page(owner_client):
    relay = Sender.objects.create(name="relay", host="relay.invalid")
    waiting = make_campaign(make_audience(3, "a"), sender=relay, name="Waits for relay")
    stalled = make_campaign(make_audience(3, "b"), name="Nobody sends this")
    control.start(waiting)
    control.start(stalled)
    alive_worker()
    from django.utils import timezone

    Sender.objects.filter(pk=relay.pk).update(failing_since=timezone.now(), last_error="refused")
    Campaign.objects.filter(pk=stalled.pk).update(
        started_at=timezone.now() - timezone.timedelta(minutes=30)
    )

    for url in (reverse("dashboard"), reverse("campaigns")):
        page = owner_client.get(url).content.decode()
        assert re.search(r'class="badge waiting"[^>]*>Waiting for sender<', page), url
        assert re.search(r'class="badge stalled"[^>]*>Stalled<', page), url
        assert 'class="badge running"' not in page, url
    detail = owner_client.get(reverse("campaign_detail", args=[stalled.pk])).content.decode()
    assert 'class="badge stalled"' in detail


def test_every_campaign_that_pauses_itself_alerts(owner_client):
    campaigns = []
    for name in ("First", "Second"):
        campaign = make_campaign(make_audience(30, name), name=name)
        control.start(campaign)
        Delivery.objects.filter(campaign=campaign).update(
            state=Delivery.State.FAILED, error="550 no such user"
        )
        assert control.pause_if_failing(campaign.pk)  # the engine's own threshold check
        campaigns.append(campaign)

    alerts = Alert.objects.filter(kind=Alert.Kind.CAMPAIGN_PAUSED)
    assert sorted(a.campaign_id for a in alerts) == sorted(c.pk for c in campaigns)
    page = owner_client.get(reverse("dashboard")).content.decode()
    assert "campaign “First” paused itself" in page
    assert "campaign “Second” paused itself" in page


def test_duplicates_get_names_of_their_own(owner_client):
    original = make_campaign(make_audience(2), name="December newsletter")
    url = reverse("campaign_duplicate", args=[original.pk])
    owner_client.post(url)
    owner_client.post(url)
    owner_client.post(url)
    names = set(Campaign.objects.exclude(pk=original.pk).values_list("name", flat=True))
    assert names == {
        "Copy of December newsletter",
        "Copy of December newsletter (2)",
        "Copy of December newsletter (3)",
    }


def test_the_campaigns_list_shows_progress_sent_and_opens(owner_client):
    campaign = make_campaign(make_audience(8), name="Winter")
    control.start(campaign)
    sent(campaign, 4)
    first = Delivery.objects.filter(campaign=campaign, state="sent").first()
    for machine in ("", "", "apple-mpp"):  # a reader twice, and Apple's proxy: one open
        EngagementEvent.objects.create(
            campaign=campaign, subscriber_id=first.subscriber_id, kind="open", machine=machine
        )

    page = owner_client.get(reverse("campaigns")).content.decode()
    headers = re.findall(r'<th scope="col"[^>]*>([^<]+)</th>', page)
    assert headers[:5] == ["Name", "Status", "Progress", "Sent", "Opens"]
    assert '4 <span class="muted">of 8</span>' in page
    assert '1 <span class="muted">(25%)</span>' in page
    assert 'aria-valuenow="50"' in page


def test_the_sender_form_is_grouped_with_the_capacity_on_top(owner_client):
    relay = Sender.objects.create(name="relay", host="relay.example.org")
    page = owner_client.get(reverse("sender_edit", args=[relay.pk])).content.decode()
    legends = re.findall(r"<legend>([^<]+)</legend>", page)
    assert legends == [
        "Server",
        "Speed and limits",
        "Log-in",
        "Envelope and bounces",
        "DKIM signing",
    ]
    assert page.index('id="capacity"') < page.index("<legend>Server</legend>")
    assert page.index('name="rates"') < page.index('name="username"')


def test_the_outbox_shows_subjects_decoded(owner_client):
    encoded = "=?utf-8?b?VGhpcyB3ZWVrLCBab8Or?="
    message = OutboxMessage.objects.create(
        mail_from="a@example.org", rcpt_to="zoe@example.com", subject=encoded,
        data=f"Subject: {encoded}\r\n\r\nHi\r\n".encode(),
    )  # fmt: skip
    for url in (reverse("outbox"), reverse("outbox_message", args=[message.pk])):
        page = owner_client.get(url).content.decode()
        assert "This week, Zoë" in page and encoded not in page, url


def test_a_broken_encoded_subject_is_shown_as_it_came():
    from postroom.web.templatetags.postroom_ui import decoded_header

    assert decoded_header("=?x-unknown?q?abc?=") in ("=?x-unknown?q?abc?=", "abc")
    assert decoded_header("Plain subject") == "Plain subject"


def csv_upload() -> SimpleUploadedFile:
    return SimpleUploadedFile("people.csv", b"email,name\njane@example.com,Jane\n")


def test_an_import_with_no_list_yet_creates_one_inline(owner_client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    page = owner_client.get(reverse("import_new")).content.decode()
    assert "There is no list yet" in page and 'name="new_list"' in page

    response = owner_client.post(
        reverse("import_new"), {"file": csv_upload(), "new_list": "Customers", "mode": "subscribe"}
    )
    imp = Import.objects.get()
    assert response.status_code == 302
    assert [ml.name for ml in imp.lists.all()] == ["Customers"]


def test_a_refused_choice_keeps_the_file_for_the_next_try(owner_client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    response = owner_client.post(reverse("import_new"), {"file": csv_upload(), "mode": "subscribe"})
    page = response.content.decode()
    assert response.status_code == 400
    assert "Choose at least one list to subscribe them to, or name a new one." in page
    assert "Keeping" in page and "people.csv" in page
    assert not MailingList.objects.exists() and not Import.objects.exists()

    response = owner_client.post(reverse("import_new"), {"new_list": "News", "mode": "subscribe"})
    assert response.status_code == 302  # no file chosen again: the kept one is used
    imp = Import.objects.get()
    assert imp.file_name == "people.csv" and [ml.name for ml in imp.lists.all()] == ["News"]


def test_a_bad_new_list_name_changes_nothing_and_keeps_the_file(owner_client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    response = owner_client.post(
        reverse("import_new"), {"file": csv_upload(), "new_list": "two\nlines", "mode": "subscribe"}
    )
    assert response.status_code == 400
    assert "line breaks" in response.content.decode()
    assert not MailingList.objects.exists() and not Import.objects.exists()
    assert len(list((tmp_path / "imports").iterdir())) == 1  # kept for the next try


def test_a_file_refused_as_a_whole_leaves_no_new_list(owner_client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    empty = SimpleUploadedFile("empty.csv", b"")
    response = owner_client.post(
        reverse("import_new"), {"file": empty, "new_list": "News", "mode": "subscribe"}
    )
    assert response.status_code == 400
    assert not MailingList.objects.exists() and not Import.objects.exists()
