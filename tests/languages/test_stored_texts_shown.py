"""Texts stored in English by the real code paths are shown in the reader's language, while
the database, the API and the rejects file keep the English (postroom.storedtext)."""

import csv
import io

import pytest
from django.urls import reverse
from django.utils import translation

from postroom.accounts.models import Profile
from postroom.alerts.models import Alert
from postroom.api.models import ApiToken
from postroom.audience.models import MailingList
from postroom.campaigns.models import Campaign
from postroom.delivery import control, doubt
from postroom.delivery.models import CampaignEvent, Delivery
from postroom.delivery.recovery import Recovered
from postroom.imports import services as imports
from postroom.imports.models import Import
from postroom.storedtext import translated
from tests.delivery.helpers import make_audience, make_campaign
from tests.imports.conftest import run, write

GERMAN = "de-DE,de;q=0.9"


@pytest.fixture
def german(client, owner):
    """The owner, logged in, who reads the admin in German."""
    Profile.objects.update_or_create(user=owner, defaults={"role": "owner", "language": "de"})
    client.force_login(owner)
    return client


def page(client, name: str, *args) -> str:
    response = client.get(reverse(name, args=args))
    assert response.status_code == 200
    return response.content.decode()


def failing_campaign() -> Campaign:
    """A started campaign whose recipients all failed permanently: it pauses itself."""
    campaign = make_campaign(make_audience(30))
    control.start(campaign)
    Delivery.objects.filter(campaign=campaign).update(
        state=Delivery.State.FAILED, error="550 5.1.1 user unknown"
    )
    control.finish_if_done(campaign.pk)
    campaign.refresh_from_db()
    return campaign


def test_a_pause_verdict_is_german_on_the_pages_and_english_in_the_database(german, db):
    campaign = failing_campaign()

    assert campaign.status == Campaign.Status.PAUSED
    english = campaign.status_reason
    assert english == (
        "30 of the last 30 recipients failed permanently; it pauses itself when more than"
        " 20% of the last 200 recipients (once 20 have an outcome) fail: check the list and"
        " the message, then resume"
    )
    panel = page(german, "campaign_delivery_panel", campaign.pk)
    assert "30 der letzten 30 Empfänger sind endgültig fehlgeschlagen" in panel
    assert "mehr als 20 % der letzten 200 Empfänger" in panel  # the nested threshold
    assert "Automatisch pausiert" in panel
    assert "failed permanently" not in panel
    assert "30 Empfänger" in panel  # the start event, too
    dashboard = page(german, "dashboard")
    assert "Kampagne „Spring news“ hat sich selbst pausiert" in dashboard
    assert "endgültig fehlgeschlagen" in dashboard
    alert = Alert.objects.get(campaign=campaign)
    assert alert.title == "campaign “Spring news” paused itself"
    assert alert.message == english


def test_the_api_gives_the_events_in_english_whatever_the_reader_asks(client, owner, db):
    campaign = failing_campaign()
    _, secret = ApiToken.issue(owner, "tests")

    response = client.get(
        f"/api/campaigns/{campaign.pk}/events",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
        HTTP_ACCEPT_LANGUAGE=GERMAN,
    )

    messages = [e["message"] for e in response.json()["items"]]
    assert "30 recipients" in messages
    assert campaign.status_reason in messages


def test_a_pause_in_a_german_request_is_stored_in_english_and_shown_in_german(german, db):
    campaign = make_campaign(make_audience(3))
    control.start(campaign)

    response = german.post(reverse("campaign_control", args=[campaign.pk, "pause"]))

    assert response.status_code == 302
    event = CampaignEvent.objects.filter(campaign=campaign).order_by("-id").first()
    assert event is not None and event.message == "paused by an operator"
    assert "von einem Bediener pausiert" in page(german, "campaign_delivery_panel", campaign.pk)
    german.post(reverse("campaign_control", args=[campaign.pk, "cancel"]))
    cancelled = CampaignEvent.objects.filter(campaign=campaign).order_by("-id").first()
    assert cancelled is not None
    assert cancelled.message == "cancelled by an operator; 3 recipients skipped"
    assert "von einem Bediener abgebrochen; 3 Empfänger übersprungen" in page(
        german, "campaign_delivery_panel", campaign.pk
    )


BAD_FILE = (
    "email,name\nann@example.com,Ann\nnot-an-address,Bob\nann@example.com,Ann again\n,Eve\n"
    "mailto:zed@example.com,Zed\n"
)


@pytest.fixture
def finished_import(db, tmp_path) -> Import:
    MailingList.objects.create(name="News")
    return run(write(tmp_path, BAD_FILE))


def test_import_rejections_are_german_on_the_page_and_english_in_the_csv(german, finished_import):
    imp = finished_import
    reasons = list(imp.rejected_rows.order_by("line").values_list("reason", flat=True))
    assert reasons[0].startswith("not a valid email address: ")
    assert reasons[1] == "no email address"

    text = page(german, "import_detail", imp.pk)
    assert "keine gültige E-Mail-Adresse: " in text
    assert "keine E-Mail-Adresse" in text
    assert "Präfix mailto: entfernt: zed@example.com" in text  # the repair's note
    assert "not a valid email address" not in text

    rows = list(
        csv.reader(
            io.StringIO(german.get(reverse("import_rejects", args=[imp.pk])).content.decode())
        )
    )
    said = [row[-1] for row in rows[1:]]
    assert "no email address" in said
    assert "duplicate: the same address as line 2, imported once" in said
    assert any(r.startswith("not a valid email address: ") for r in said)


def test_the_recognised_counts_follow_the_page_and_stay_english_elsewhere(finished_import):
    imp = finished_import
    with translation.override("de"):
        german = imports.recognised(imp, {"subscribed": 1}, future=False)
    assert german == ["Diese Datei: 1 Person wurde importiert als abonniert"]
    assert imports.recognised(imp, {"subscribed": 2}) == [
        "This file: 2 people will be imported as subscribed"
    ]


def test_a_worker_s_recovery_reads_whole_in_every_combination():
    full = Recovered(requeued=4, in_doubt=2, settled=1, suspected=3).message()
    assert full == (
        "4 recipients back in the queue, 2 in doubt (the server may have accepted them),"
        " 1 settled from the worker's journal, 3 spent an attempt (the worker died building"
        " it again) after a worker stopped"
    )
    assert Recovered(requeued=5, settled=2).message() == (
        "5 recipients back in the queue, 2 settled from the worker's journal after a worker stopped"
    )
    with translation.override("de"):
        shown = translated(full)
    assert shown == (
        "4 Empfänger zurück in der Warteschlange, 2 ungewiss (der Server hat sie womöglich"
        " angenommen), 1 aus dem Journal des Workers geklärt, 3 haben einen Versuch verbraucht"
        " (der Worker starb erneut beim Erstellen), nachdem ein Worker anhielt"
    )


def test_settled_recipients_in_doubt_are_named_in_english_and_read_in_german(db):
    campaign = make_campaign(make_audience(4))
    control.start(campaign)
    rows = Delivery.objects.filter(campaign=campaign).order_by("id")
    rows.update(
        state=Delivery.State.IN_DOUBT,
        error="the worker stopped while this message"
        " was with the SMTP server; it may have been delivered",
    )
    one = rows.first()
    assert one is not None

    doubt.resolve(campaign, delivered=True, by="ops", emails=[one.email])
    doubt.resolve(campaign, delivered=True, by="ops")

    first, second = CampaignEvent.objects.filter(
        campaign=campaign, kind=CampaignEvent.Kind.RESOLVED
    ).order_by("id")
    assert first.message == f"1 recipient in doubt marked delivered by ops: {one.email}"
    assert second.message == "all 3 recipients in doubt marked delivered by ops"
    note = Delivery.objects.get(pk=one.pk).error
    assert note.startswith("marked delivered by ops on ")
    assert note.endswith(
        "; was in doubt: the worker stopped while this message was with the"
        " SMTP server; it may have been delivered"
    )
    with translation.override("de"):
        assert translated(first.message) == (
            f"1 ungewisser Empfänger von ops als zugestellt markiert: {one.email}"
        )
        assert (
            translated(second.message)
            == "alle 3 ungewissen Empfänger von ops als zugestellt markiert"
        )
        assert "war ungewiss: der Worker hielt an" in translated(note)


def test_a_finished_campaign_s_counts_are_english_stored_and_read_in_each_language(db):
    campaign = make_campaign(make_audience(6))
    control.start(campaign)
    rows = list(Delivery.objects.filter(campaign=campaign).order_by("id"))
    states = [Delivery.State.FAILED, Delivery.State.IN_DOUBT] + [Delivery.State.SENT] * 3
    for row, state in zip(rows, [*states, Delivery.State.SKIPPED], strict=True):
        Delivery.objects.filter(pk=row.pk).update(state=state)
    campaign.error_threshold_percent = 100
    campaign.save(update_fields=["error_threshold_percent"])

    assert control.finish_if_done(campaign.pk)

    stored = CampaignEvent.objects.get(campaign=campaign, kind="finished").message
    assert stored == "1 failed, 1 in doubt, 3 sent, 1 skipped"
    with translation.override("de"):
        assert translated(stored) == "1 fehlgeschlagen, 1 ungewiss, 3 versandt, 1 übersprungen"
    with translation.override("zh-hans"):
        assert translated(stored) == "1 失败, 1 状态不明, 3 已发送, 1 已跳过"


def test_a_sender_s_capacity_notes_follow_the_reader_s_language():
    from postroom.delivery.capacity import explain_settings

    english_notes, english_warnings = explain_settings([(10, 1), (100, 60)], 1)
    with translation.override("de"):
        notes, warnings = explain_settings([(10, 1), (100, 60)], 1)
    assert english_notes[0].startswith("Messages are spread evenly: one every 600 ms")
    assert notes[0].startswith("Nachrichten werden gleichmäßig verteilt: eine alle 600 ms")
    assert english_warnings == [
        "The 100/minute limit sets the pace, so the 10/second limit is never reached."
    ]
    assert warnings == [
        "Das Limit 100/minute bestimmt das Tempo, daher wird das Limit 10/second nie erreicht."
    ]


def test_what_a_file_was_recognised_as_is_kept_in_english_and_read_in_each_language(db, tmp_path):
    MailingList.objects.create(name="News")
    mailchimp = "Email Address,First Name,OPTIN_TIME,LEID,UNSUB_TIME\nann@example.com,Ann,,1,\n"
    imp = run(write(tmp_path, mailchimp))

    assert imp.layout["source"] == "Mailchimp unsubscribed export"
    assert imports.recognised(imp)[0] == "Mailchimp unsubscribed export"
    with translation.override("de"):
        assert imports.recognised(imp)[0] == "Mailchimp-Export der Abgemeldeten"
    with translation.override("fr"):
        assert imports.recognised(imp)[0] == "export Mailchimp des désabonnés"
