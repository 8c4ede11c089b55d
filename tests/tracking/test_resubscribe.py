"""'Subscribe again' after unsubscribing: a signed, CSRF-checked POST that brings the person
back to the campaign's lists, at once on single opt-in lists, by a confirmation email
(sent by a worker) on double opt-in ones; recorded like every consent."""

import email
import email.policy
import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from postroom.audience import services as audience
from postroom.audience.eligibility import mailable_subscribers
from postroom.audience.models import Subscription, Suppression
from postroom.campaigns import services
from postroom.delivery.models import OutboxMessage
from postroom.tracking import actions, links, signups
from postroom.tracking.models import SignupRequest, UnsubscribeEvent

IP = "203.0.113.9"
TOKEN_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()  # the confirmations' resend pauses live there
    yield
    cache.clear()


@pytest.fixture
def weekly(db):
    return audience.create_list("Weekly", optin="single")


@pytest.fixture
def digest(db):
    return audience.create_list("Digest", optin="double")  # private: it need not be public


@pytest.fixture
def zoe(weekly, digest):
    person = audience.add_subscriber("zoe@example.com", name="Zoe", lists=[weekly, digest])
    Subscription.objects.filter(subscriber=person).update(status="confirmed")
    return person


def campaign_to(*lists):
    return services.create_campaign(
        name="June", subject="June", body="Hi", from_email="news@example.org", lists=list(lists)
    )


def unsubscribe_path(campaign, person) -> str:
    return links.unsubscribe_url(campaign.pk, person.pk).removeprefix("http://127.0.0.1:8000")


def unsubscribe(client: Client, campaign, person) -> str:
    """Click "Unsubscribe" on the page; the page that answers, with its CSRF token."""
    response = client.post(unsubscribe_path(campaign, person))
    assert response.status_code == 200
    return response.content.decode()


def subscribe_again(client: Client, campaign, person, page: str):
    token = TOKEN_FIELD.search(page).group(1)
    action = unsubscribe_path(campaign, person) + "again/"
    assert f'action="{action}"' in page
    return client.post(action, {"csrfmiddlewaretoken": token}, REMOTE_ADDR=IP)


def status(person, mailing_list) -> str:
    return Subscription.objects.get(subscriber=person, mailing_list=mailing_list).status


def suppressed(person) -> bool:
    return Suppression.objects.filter(email_hash=person.email_hash).exists()


def test_the_unsubscribed_page_offers_a_way_back(zoe, weekly):
    page = unsubscribe(Client(enforce_csrf_checks=True), campaign_to(weekly), zoe)
    assert "Unsubscribed by mistake?" in page and "<strong>Weekly</strong>" in page
    assert 'method="post"' in page and TOKEN_FIELD.search(page)


def test_a_single_opt_in_list_takes_the_person_back_at_once_and_records_the_consent(
    zoe, weekly, digest
):
    client = Client(enforce_csrf_checks=True)
    campaign = campaign_to(weekly)
    page = unsubscribe(client, campaign, zoe)
    assert suppressed(zoe) and status(zoe, weekly) == "unsubscribed"

    response = subscribe_again(client, campaign, zoe, page)

    assert response.status_code == 200
    assert "is subscribed again to <strong>Weekly</strong>" in response.content.decode()
    row = Subscription.objects.get(subscriber=zoe, mailing_list=weekly)
    assert row.status == "confirmed"
    assert (row.consent_source, row.consent_ip) == ("form", IP)
    assert row.consent_at > timezone.now() - timedelta(minutes=1)
    assert row.unsubscribed_at is None
    assert not suppressed(zoe)
    assert mailable_subscribers([weekly], None).filter(pk=zoe.pk).exists()
    # Only the campaign's list comes back: the others it left stay left.
    assert status(zoe, digest) == "unsubscribed"
    assert not OutboxMessage.objects.exists()
    assert response["Cache-Control"] == "private, no-store"


@pytest.mark.django_db(transaction=True)
def test_a_double_opt_in_list_gets_a_confirmation_from_the_worker(zoe, digest):
    client = Client(enforce_csrf_checks=True)
    campaign = campaign_to(digest)
    page = unsubscribe(client, campaign, zoe)

    response = subscribe_again(client, campaign, zoe, page)

    assert "click the link in it to confirm <strong>Digest</strong>" in response.content.decode()
    # The request only stored the work: no mail left during it, nothing changed yet.
    assert not OutboxMessage.objects.exists()
    assert SignupRequest.objects.get().from_link
    assert status(zoe, digest) == "unsubscribed" and suppressed(zoe)

    assert signups.process_pending() == 1  # a worker's step

    sent = OutboxMessage.objects.get()
    assert sent.rcpt_to == "zoe@example.com"
    assert status(zoe, digest) == "unconfirmed" and suppressed(zoe)
    message = email.message_from_bytes(bytes(sent.data), policy=email.policy.default)
    text = message.get_body(("plain",)).get_content()
    confirm = re.search(r"http://127\.0\.0\.1:8000(/c/[^/\s]+/)", text).group(1)
    client.post(confirm, {"csrfmiddlewaretoken": TOKEN_FIELD.search(
        client.get(confirm).content.decode()).group(1)})  # fmt: skip
    assert status(zoe, digest) == "confirmed" and not suppressed(zoe)


def test_a_get_changes_nothing(client, zoe, weekly):
    campaign = campaign_to(weekly)
    unsubscribe(client, campaign, zoe)
    assert client.get(unsubscribe_path(campaign, zoe) + "again/").status_code == 405
    assert status(zoe, weekly) == "unsubscribed" and suppressed(zoe)


def test_a_post_without_the_csrf_token_changes_nothing(zoe, weekly):
    client = Client(enforce_csrf_checks=True)
    campaign = campaign_to(weekly)
    unsubscribe(client, campaign, zoe)
    assert client.post(unsubscribe_path(campaign, zoe) + "again/").status_code == 403
    assert status(zoe, weekly) == "unsubscribed" and suppressed(zoe)


def test_a_forged_link_changes_nothing(client, zoe, weekly):
    campaign = campaign_to(weekly)
    unsubscribe(client, campaign, zoe)
    genuine = links.default_signer().token("u", campaign.pk, zoe.pk)
    for token in (
        genuine[:-1] + ("A" if genuine[-1] != "A" else "B"),
        links.default_signer().token("v", campaign.pk, zoe.pk),  # a view link
        "u.1.1.x",
    ):
        assert client.post(f"/u/{token}/again/").status_code == 404, token
    assert status(zoe, weekly) == "unsubscribed"


def test_it_is_an_undo_that_runs_out(client, zoe, weekly):
    campaign = campaign_to(weekly)
    page = unsubscribe(client, campaign, zoe)
    UnsubscribeEvent.objects.update(
        at=timezone.now() - timedelta(hours=actions.RESUBSCRIBE_HOURS, minutes=1)
    )
    response = subscribe_again(client, campaign, zoe, page)
    assert response.status_code == 403
    assert "for 24 hours after unsubscribing" in response.content.decode()
    assert status(zoe, weekly) == "unsubscribed" and suppressed(zoe)


def test_a_link_that_did_not_unsubscribe_brings_nobody_back(client, zoe, weekly):
    """The preferences page, another campaign's link: this link never said no."""
    audience.unsubscribe(zoe, None, source="admin")
    campaign = campaign_to(weekly)
    response = client.post(unsubscribe_path(campaign, zoe) + "again/")
    assert response.status_code == 403
    assert status(zoe, weekly) == "unsubscribed"


def test_a_bounced_address_is_not_brought_back(client, zoe, weekly):
    campaign = campaign_to(weekly)
    page = unsubscribe(client, campaign, zoe)
    Suppression.objects.filter(email_hash=zoe.email_hash).update(reason="bounced")
    response = subscribe_again(client, campaign, zoe, page)
    assert response.status_code == 403
    assert "cannot be subscribed again" in response.content.decode()
    assert status(zoe, weekly) == "unsubscribed"


def test_asking_twice_finds_nothing_more_to_do(client, zoe, weekly):
    campaign = campaign_to(weekly)
    page = unsubscribe(client, campaign, zoe)
    subscribe_again(client, campaign, zoe, page)
    again = subscribe_again(client, campaign, zoe, page)
    assert again.status_code == 200
    assert "nothing to subscribe again to" in again.content.decode()


def test_the_one_click_unsubscribe_of_a_confirmation_mail_offers_nothing(client, zoe):
    """Campaign 0 is a confirmation email's "didn't ask for this?": no list to go back to."""
    path = links.unsubscribe_url(0, zoe.pk).removeprefix("http://127.0.0.1:8000")
    page = client.post(path).content.decode()
    assert "You are unsubscribed" in page and "Subscribe again" not in page
