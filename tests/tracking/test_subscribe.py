"""Public subscription forms and double opt-in: consent, bots, privacy, signed links."""

import email
import email.policy
import re
import time

import pytest
from django.core.cache import cache
from django.test import Client

from postroom.audience import services as audience
from postroom.audience.eligibility import mailable_subscribers
from postroom.audience.models import MailingList, Subscriber, Subscription, Suppression
from postroom.delivery.models import OutboxMessage, Sender
from postroom.errors import NotFound
from postroom.testing.smtpserver import CaptureServer
from postroom.tracking import confirmations, links, signups

IP = "203.0.113.7"


@pytest.fixture(autouse=True)
def fresh_cache():
    # The per-IP counts and the resend pauses live in the cache, shared across tests.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def weekly(db) -> MailingList:
    return audience.create_list("Weekly", optin="single", public=True, description="Every Monday")


@pytest.fixture
def digest(db) -> MailingList:
    return audience.create_list("Digest", optin="double", public=True)


def post(client, mailing_list, address="zoe@example.com", name="Zoe", ip=IP, **extra):
    """Post the form, then let a worker carry the sign-up out, as `postroom worker` does."""
    data = {"email": address, "name": name, **extra}
    response = client.post(f"/subscribe/{mailing_list.pk}/", data, REMOTE_ADDR=ip)
    signups.process_pending()
    return response


def subscription(address, mailing_list) -> Subscription:
    return Subscription.objects.get(subscriber__email=address, mailing_list=mailing_list)


def is_mailable(address, mailing_list) -> bool:
    return mailable_subscribers([mailing_list], None).filter(email=address).exists()


def parsed(data: bytes):
    return email.message_from_bytes(data, policy=email.policy.default)


def confirm_path(data: bytes) -> str:
    text = parsed(data).get_body(("plain",)).get_content()
    url = re.search(r"http://127\.0\.0\.1:8000(/c/[^/\s]+/)", text)
    assert url, text
    return url.group(1)


def test_a_single_opt_in_form_subscribes_at_once_and_records_consent(client, weekly):
    response = post(client, weekly)

    assert response.status_code == 200
    assert b"You are subscribed to <strong>Weekly</strong>" in response.content
    row = subscription("zoe@example.com", weekly)
    assert row.status == Subscription.Status.CONFIRMED
    assert (row.consent_source, row.consent_ip) == ("form", IP)
    assert Subscriber.objects.get(email="zoe@example.com").name == "Zoe"
    assert is_mailable("zoe@example.com", weekly)
    assert not OutboxMessage.objects.exists()
    assert response["Cache-Control"] == "private, no-store"


def test_a_double_opt_in_form_mails_a_signed_link_to_the_outbox_and_waits(client, digest):
    response = post(client, digest, address="Zoe@Example.COM", name="Buy pills now")

    assert b"Check your inbox" in response.content
    row = subscription("zoe@example.com", digest)
    assert row.status == Subscription.Status.UNCONFIRMED
    assert not is_mailable("zoe@example.com", digest)
    sent = OutboxMessage.objects.get()
    assert sent.rcpt_to == "zoe@example.com"
    message = parsed(bytes(sent.data))
    assert message["Subject"] == "Confirm your subscription to Digest"
    assert message["To"] == "zoe@example.com"
    assert message["List-Unsubscribe"].startswith("<http://127.0.0.1:8000/u/u.0.")
    assert message["Message-ID"].startswith(f"<confirm.{row.subscriber_id}.{digest.pk}.")
    html = message.get_body(("html",)).get_content()
    assert confirm_path(bytes(sent.data)) in html
    # What the visitor typed never reaches the inbox of the address they typed.
    assert b"pills" not in bytes(sent.data)


@pytest.mark.django_db(transaction=True)
def test_the_link_from_a_real_smtp_server_confirms_only_on_post(client):
    digest = audience.create_list("Digest", optin="double", public=True)
    with CaptureServer() as server:
        Sender.objects.create(
            name="relay", host=server.host, port=server.port, tls="none", envelope_from="b@x.org"
        )
        Sender.objects.create(name="another", host=server.host, port=1, tls="none")
        post(client, digest)
        received = server.wait_for(1)

    assert [(m.mail_from, m.rcpt_to) for m in received] == [("b@x.org", ["zoe@example.com"])]
    path = confirm_path(received[0].data)
    page = client.get(path)
    assert page.status_code == 200
    assert b"Yes, subscribe me" in page.content
    assert subscription("zoe@example.com", digest).status == Subscription.Status.UNCONFIRMED

    done = client.post(path, REMOTE_ADDR="198.51.100.9")

    assert b"You are subscribed" in done.content
    row = subscription("zoe@example.com", digest)
    assert row.status == Subscription.Status.CONFIRMED
    assert row.confirmed_at is not None
    assert row.consent_ip == "198.51.100.9"
    assert is_mailable("zoe@example.com", digest)


def test_the_honeypot_gets_the_thanks_page_and_nothing_is_stored(client, digest):
    response = post(client, digest, website="http://spam.example")

    assert response.status_code == 200
    assert b"Check your inbox" in response.content
    assert not Subscriber.objects.exists()
    assert not OutboxMessage.objects.exists()


def test_the_form_needs_a_csrf_token(digest):
    strict = Client(enforce_csrf_checks=True)
    assert post(strict, digest).status_code == 403
    assert not Subscriber.objects.exists()

    form = strict.get(f"/subscribe/{digest.pk}/")
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', form.content).group(1)
    response = post(strict, digest, csrfmiddlewaretoken=token.decode())
    assert response.status_code == 200
    assert Subscriber.objects.filter(email="zoe@example.com").exists()


def test_the_confirm_button_needs_a_csrf_token(digest):
    strict = Client(enforce_csrf_checks=True)
    confirmations.request_subscription("zoe@example.com", digest)
    path = confirm_path(bytes(OutboxMessage.objects.get().data))

    assert strict.post(path).status_code == 403
    assert subscription("zoe@example.com", digest).status == Subscription.Status.UNCONFIRMED


def known_addresses(weekly, digest) -> dict[str, str]:
    """Addresses in every state a visitor must not be able to tell apart."""
    other = audience.create_list("Other", public=False)
    audience.add_subscriber("sub@example.com", lists=[weekly, digest], preconfirmed=True)
    audience.add_subscriber("wait@example.com", lists=[digest])
    left = audience.add_subscriber("left@example.com", lists=[other])
    audience.unsubscribe(left, None, source="test")
    audience.suppress("bounced@example.com", Suppression.Reason.BOUNCED)
    blocked = audience.add_subscriber("blocked@example.com", lists=[other])
    audience.blocklist(Subscriber.objects.filter(pk=blocked.pk))
    return {
        "new": "new@example.com",
        "subscribed": "sub@example.com",
        "unconfirmed": "wait@example.com",
        "suppressed": "left@example.com",
        "bounced": "bounced@example.com",
        "blocklisted": "blocked@example.com",
    }


@pytest.mark.parametrize("optin", ["single", "double"])
def test_the_answer_is_the_same_whatever_the_address_was(client, weekly, digest, optin):
    mailing_list = weekly if optin == "single" else digest
    addresses = known_addresses(weekly, digest)

    pages = {kind: post(client, mailing_list, address=a) for kind, a in addresses.items()}

    assert {page.status_code for page in pages.values()} == {200}
    assert len({page.content for page in pages.values()}) == 1
    assert len({tuple(sorted(page.headers.items())) for page in pages.values()}) == 1


def test_known_addresses_keep_their_details_and_bad_ones_get_no_mail(client, digest, weekly):
    addresses = known_addresses(weekly, digest)
    for address in addresses.values():
        post(client, digest, address=address, name="Someone Else")

    mailed = set(OutboxMessage.objects.values_list("rcpt_to", flat=True))
    assert mailed == {"new@example.com", "wait@example.com", "left@example.com"}
    assert Subscriber.objects.get(email="sub@example.com").name == ""
    assert not Subscriber.objects.filter(email="bounced@example.com").exists()
    assert Subscriber.objects.get(email="blocked@example.com").is_blocklisted
    blocked = Subscription.objects.filter(subscriber__email="blocked@example.com")
    assert not blocked.filter(mailing_list=digest).exists()


def test_a_suppressed_address_comes_back_only_by_confirming_and_only_to_that_list(client, weekly):
    other = audience.create_list("Other")
    zoe = audience.add_subscriber("zoe@example.com", lists=[weekly, other])
    audience.unsubscribe(zoe, None, source="link")

    outcome = confirmations.request_subscription("zoe@example.com", weekly, ip=IP)

    assert outcome == confirmations.CONFIRMATION_SENT
    assert subscription("zoe@example.com", weekly).status == Subscription.Status.UNSUBSCRIBED
    assert not is_mailable("zoe@example.com", weekly)
    client.post(confirm_path(bytes(OutboxMessage.objects.get().data)))
    assert subscription("zoe@example.com", weekly).status == Subscription.Status.CONFIRMED
    assert not Suppression.objects.filter(email_hash=zoe.email_hash).exists()
    assert is_mailable("zoe@example.com", weekly)
    assert subscription("zoe@example.com", other).status == Subscription.Status.UNSUBSCRIBED
    assert not is_mailable("zoe@example.com", other)


def test_leaving_a_single_opt_in_list_then_rejoining_waits_for_the_click(client, weekly):
    zoe = audience.add_subscriber("zoe@example.com", lists=[weekly])
    audience.unsubscribe(zoe, [weekly], source="preferences")

    outcome = confirmations.request_subscription("zoe@example.com", weekly, ip=IP)

    assert outcome == confirmations.CONFIRMATION_SENT
    assert subscription("zoe@example.com", weekly).status == Subscription.Status.UNSUBSCRIBED
    assert not is_mailable("zoe@example.com", weekly)
    client.post(confirm_path(bytes(OutboxMessage.objects.get().data)), REMOTE_ADDR=IP)
    row = subscription("zoe@example.com", weekly)
    assert (row.status, row.consent_source, row.consent_ip) == ("confirmed", "form", IP)
    assert row.unsubscribed_at is None
    assert is_mailable("zoe@example.com", weekly)


def test_a_bounced_address_is_never_mailed_from_a_form(digest):
    audience.suppress("zoe@example.com", Suppression.Reason.COMPLAINED)
    outcome = confirmations.request_subscription("zoe@example.com", digest)
    assert outcome == confirmations.REFUSED
    assert not OutboxMessage.objects.exists()
    assert not Subscriber.objects.exists()


def test_asking_again_within_minutes_sends_no_second_mail(client, digest):
    post(client, digest)
    post(client, digest)
    assert OutboxMessage.objects.count() == 1
    outcome = confirmations.request_subscription("zoe@example.com", digest)
    assert outcome == confirmations.THROTTLED


def test_each_post_from_one_network_counts_toward_the_hourly_limit(client, digest, settings):
    settings.POSTROOM_SUBSCRIBE_LIMIT = 2
    assert post(client, digest, address="a@example.com").status_code == 200
    assert post(client, digest, address="b@example.com", website="bot").status_code == 200

    refused = post(client, digest, address="c@example.com")

    assert refused.status_code == 429
    assert b"Too many sign-ups" in refused.content
    assert not Subscriber.objects.filter(email="c@example.com").exists()
    assert post(client, digest, address="c@example.com", ip="198.51.100.1").status_code == 200
    # One IPv6 host holds a /64: its addresses share one count.
    assert post(client, digest, address="d@example.com", ip="2001:db8::1").status_code == 200
    assert post(client, digest, address="e@example.com", ip="2001:db8::2").status_code == 200
    assert post(client, digest, address="f@example.com", ip="2001:db8::3").status_code == 429


def test_an_invalid_address_is_a_form_error_and_stores_nothing(client, weekly):
    response = post(client, weekly, address="zoe@example.com;Zoe;Lee")
    assert response.status_code == 400
    assert b"errorlist" in response.content
    assert not Subscriber.objects.exists()


def test_private_lists_have_no_form(client, weekly):
    private = audience.create_list("Staff only", optin="single", public=False)

    assert client.get(f"/subscribe/{private.pk}/").status_code == 404
    assert post(client, private).status_code == 404
    assert client.get("/subscribe/staff-only/").status_code == 404
    assert not Subscriber.objects.exists()
    with pytest.raises(NotFound):
        confirmations.request_subscription("zoe@example.com", private)
    index = client.get("/subscribe/")
    assert b"Staff only" not in index.content
    assert b'href="/subscribe/weekly/"' in index.content


def test_a_list_form_is_reached_by_its_slug(client, weekly):
    page = client.get("/subscribe/weekly/")
    assert page.status_code == 200
    assert b"Every Monday" in page.content
    assert b'name="website"' in page.content


def token_for(row: Subscription, issued_ms: int | None = None) -> str:
    issued_ms = issued_ms or int(time.time() * 1000)
    return links.default_signer().token("c", row.subscriber_id, row.mailing_list_id, issued_ms)


def forged_tokens(row: Subscription, other: Subscription) -> list[str]:
    genuine = token_for(row)
    _, subscriber, mailing_list, issued, signature = genuine.split(".")
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    signer = links.default_signer()
    return [
        f"c.{other.subscriber_id}.{mailing_list}.{issued}.{signature}",  # someone else
        f"c.{subscriber}.{mailing_list + '1'}.{issued}.{signature}",  # another list
        f"c.{subscriber}.{mailing_list}.{int(issued) + 86400000}.{signature}",  # a later date
        f"c.{subscriber}.{mailing_list}.{issued}.{flipped}",
        f"c.{subscriber}.{mailing_list}.{issued}",
        signer.token("u", row.subscriber_id, int(issued)),  # another purpose
        signer.token("p", row.subscriber_id),
    ]


def test_forged_or_altered_links_are_refused_and_change_nothing(client, digest):
    confirmations.request_subscription("zoe@example.com", digest)
    confirmations.request_subscription("yan@example.com", digest)
    row, other = subscription("zoe@example.com", digest), subscription("yan@example.com", digest)

    for forged in forged_tokens(row, other):
        for method in (client.get, client.post):
            response = method(f"/c/{forged}/")
            assert response.status_code == 404, forged
            assert b"This link is not valid" in response.content
    assert set(Subscription.objects.values_list("status", flat=True)) == {"unconfirmed"}


def test_a_confirmation_link_cannot_unsubscribe(client, digest):
    confirmations.request_subscription("zoe@example.com", digest)
    row = subscription("zoe@example.com", digest)
    assert client.post(f"/u/{token_for(row)}/").status_code == 404
    assert not Suppression.objects.exists()


def test_an_expired_link_says_so_and_changes_nothing(client, digest):
    confirmations.request_subscription("zoe@example.com", digest)
    row = subscription("zoe@example.com", digest)
    old = token_for(row, int((time.time() - 8 * 86400) * 1000))

    response = client.post(f"/c/{old}/")

    assert response.status_code == 410
    assert b"This link has expired" in response.content
    assert subscription("zoe@example.com", digest).status == Subscription.Status.UNCONFIRMED


def test_an_unsubscribe_after_the_mail_wins_over_the_old_link(client, digest):
    confirmations.request_subscription("zoe@example.com", digest)
    path = confirm_path(bytes(OutboxMessage.objects.get().data))
    zoe = Subscriber.objects.get(email="zoe@example.com")
    audience.unsubscribe(zoe, [digest], source="preferences")

    response = client.post(path)

    assert b"Nothing to confirm" in response.content
    assert subscription("zoe@example.com", digest).status == Subscription.Status.UNSUBSCRIBED
    assert not is_mailable("zoe@example.com", digest)


def test_the_mails_one_click_unsubscribe_suppresses_the_address(client, digest):
    confirmations.request_subscription("zoe@example.com", digest)
    message = parsed(bytes(OutboxMessage.objects.get().data))
    url = message["List-Unsubscribe"].strip("<>")

    client.post(url.replace("http://127.0.0.1:8000", ""), {"List-Unsubscribe": "One-Click"})

    zoe = Subscriber.objects.get(email="zoe@example.com")
    assert Suppression.objects.get(email_hash=zoe.email_hash).reason == "unsubscribed"
    assert subscription("zoe@example.com", digest).status == Subscription.Status.UNSUBSCRIBED


@pytest.mark.django_db(transaction=True)
def test_a_refused_confirmation_shows_the_same_page_and_can_be_asked_again(client):
    digest = audience.create_list("Digest", optin="double", public=True)
    with CaptureServer(rcpt_reply={"*": "550 5.1.1 no such user"}) as server:
        Sender.objects.create(
            name="relay", host=server.host, port=server.port, tls="none", envelope_from="b@x.org"
        )
        page = post(client, digest)
        again = confirmations.request_subscription("zoe@example.com", digest)

    assert b"Check your inbox" in page.content
    assert again == confirmations.CONFIRMATION_FAILED  # not "throttled": nothing went out
    assert server.rcpt_attempts["zoe@example.com"] == 2
    assert subscription("zoe@example.com", digest).status == Subscription.Status.UNCONFIRMED


def test_behind_a_proxy_the_consent_records_the_address_the_proxy_saw(client, weekly, settings):
    settings.POSTROOM_BEHIND_PROXY = True
    client.post(
        f"/subscribe/{weekly.pk}/",
        {"email": "zoe@example.com"},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="192.0.2.66, 198.51.100.23",
    )
    signups.process_pending()
    assert subscription("zoe@example.com", weekly).consent_ip == "198.51.100.23"


def test_without_a_from_address_the_visitor_sees_the_same_page_and_the_log_says_why(
    client, digest, settings, caplog
):
    settings.POSTROOM_FROM_EMAIL = ""
    Sender.objects.create(name="relay", host="127.0.0.1", port=1, tls="none")

    page = post(client, digest)

    assert page.status_code == 200
    assert b"Check your inbox" in page.content
    assert "no From address" in caplog.text
    assert subscription("zoe@example.com", digest).status == Subscription.Status.UNCONFIRMED
