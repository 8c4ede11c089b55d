"""The public pages behind a campaign's signed links: unsubscribe, preferences, read online."""

import urllib.request

import pytest

from postroom.audience import services as audience
from postroom.audience.models import MailingList, Subscription, Suppression
from postroom.campaigns import services
from postroom.mail.links import LinkSigner
from postroom.tracking import links
from postroom.tracking.models import UnsubscribeEvent

ONE_CLICK = {"List-Unsubscribe": "One-Click"}


def path_of(url: str) -> str:
    return url.replace("http://127.0.0.1:8000", "")


def unsubscribe_path(campaign, subscriber) -> str:
    return path_of(links.unsubscribe_url(campaign.pk, subscriber.pk))


def is_mailable(campaign, subscriber) -> bool:
    return services.mailable(campaign.lists.all(), None).filter(pk=subscriber.pk).exists()


def test_a_one_click_post_unsubscribes_at_once_and_records_it(client, campaign, ann, news):
    response = client.post(unsubscribe_path(campaign, ann), ONE_CLICK)

    assert response.status_code == 200
    subscription = Subscription.objects.get(subscriber=ann, mailing_list=news)
    assert subscription.status == Subscription.Status.UNSUBSCRIBED
    assert subscription.unsubscribed_at is not None
    assert subscription.unsubscribe_source == f"one-click (campaign {campaign.pk})"
    assert Suppression.objects.filter(email_hash=ann.email_hash).exists()
    event = UnsubscribeEvent.objects.get()
    assert (event.subscriber, event.campaign, event.method) == (ann, campaign, "one-click")
    assert not is_mailable(campaign, ann)


def test_one_click_needs_no_csrf_token(campaign, ann):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert strict.post(unsubscribe_path(campaign, ann), ONE_CLICK).status_code == 200
    assert not is_mailable(campaign, ann)


def test_a_get_only_asks_and_changes_nothing(client, campaign, ann):
    response = client.get(unsubscribe_path(campaign, ann))
    assert response.status_code == 200
    assert b"ann@example.com" in response.content
    assert b'method="post"' in response.content
    assert response["Cache-Control"] == "private, no-store"
    assert is_mailable(campaign, ann)
    assert not UnsubscribeEvent.objects.exists()


def test_the_confirmation_button_unsubscribes_too(client, campaign, ann):
    response = client.post(unsubscribe_path(campaign, ann))
    assert b"You are unsubscribed" in response.content
    assert UnsubscribeEvent.objects.get().method == "link"
    assert not is_mailable(campaign, ann)


def test_an_unsubscribed_address_is_left_out_of_later_campaigns(client, campaign, ann, news):
    client.post(unsubscribe_path(campaign, ann), ONE_CLICK)
    other = MailingList.objects.create(name="Other")
    Subscription.objects.create(
        subscriber=ann, mailing_list=other, status="confirmed", consent_source="admin"
    )
    later = services.create_campaign(name="Later", subject="S", body="Hi", lists=[news, other])
    assert services.audience_count(later) == 0


def forged_tokens(campaign, ann, bob) -> list[str]:
    genuine = links.default_signer().token("u", campaign.pk, ann.pk)
    payload, _, signature = genuine.rpartition(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    return [
        f"u.{campaign.pk}.{bob.pk}.{signature}",  # someone else, same signature
        f"{payload}.{flipped}",  # altered signature
        payload,  # no signature
        f"u.{campaign.pk}.{ann.pk}.",  # empty signature
        LinkSigner("another-secret", "http://x").token("u", campaign.pk, ann.pk),
        links.default_signer().token("v", campaign.pk, ann.pk),  # a view link is no unsubscribe
        "u.1.1.." + signature,
        "not-a-token",
    ]


def test_a_forged_or_altered_token_is_refused_and_changes_nothing(client, campaign, ann, news):
    bob = audience.add_subscriber("bob@example.com", lists=[news])
    for token in forged_tokens(campaign, ann, bob):
        assert client.post(f"/u/{token}/", ONE_CLICK).status_code == 404, token
        assert client.get(f"/u/{token}/").status_code == 404, token
    assert is_mailable(campaign, ann) and is_mailable(campaign, bob)
    assert not Suppression.objects.exists()
    assert not UnsubscribeEvent.objects.exists()


def test_a_link_for_an_erased_subscriber_is_a_plain_404(client, campaign, ann):
    path = unsubscribe_path(campaign, ann)
    audience.erase(ann)
    assert client.post(path, ONE_CLICK).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_one_click_works_over_real_http(live_server, news, ann):
    campaign = services.create_campaign(name="Live", subject="S", body="Hi", lists=[news])
    token = links.default_signer().token("u", campaign.pk, ann.pk)
    request = urllib.request.Request(
        f"{live_server.url}/u/{token}/",
        data=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    assert not is_mailable(campaign, ann)
    assert UnsubscribeEvent.objects.get().method == "one-click"


def test_the_preferences_page_lists_the_subscribers_lists(client, ann, news):
    MailingList.objects.create(name="Secret", visibility="private")
    response = client.get(path_of(links.preferences_url(ann.pk)))
    assert response.status_code == 200
    assert b"News" in response.content
    assert b"Secret" not in response.content


def test_unticking_a_list_leaves_only_that_list(client, ann, news):
    other = MailingList.objects.create(name="Other")
    audience.subscribe(ann, other)
    response = client.post(path_of(links.preferences_url(ann.pk)), {"lists": [other.pk]})
    assert response.status_code == 200
    statuses = dict(
        Subscription.objects.filter(subscriber=ann).values_list("mailing_list__name", "status")
    )
    assert statuses == {"News": "unsubscribed", "Other": "confirmed"}
    assert not Suppression.objects.exists()
    event = UnsubscribeEvent.objects.get()
    assert (event.method, event.lists) == ("preferences", "News")
    assert Subscription.objects.get(subscriber=ann, mailing_list=news).unsubscribe_source == (
        "preferences"
    )


def test_the_preferences_page_can_unsubscribe_from_everything(client, ann):
    client.post(path_of(links.preferences_url(ann.pk)), {"everything": "1"})
    assert Suppression.objects.filter(email_hash=ann.email_hash).exists()


def test_preferences_refuse_a_forged_token(client, ann, news):
    token = links.default_signer().token("p", ann.pk)
    bad = token[:-2] + ("xx" if not token.endswith("xx") else "yy")
    assert client.post(f"/p/{bad}/", {"lists": []}).status_code == 404
    assert Subscription.objects.get(subscriber=ann).status != "unsubscribed"


def test_view_in_browser_renders_what_the_subscriber_got(client, campaign, news):
    eve = audience.add_subscriber("eve@example.com", name="<script>x</script>Eve", lists=[news])
    response = client.get(path_of(links.view_url(campaign.pk, eve.pk)))
    assert response.status_code == 200
    assert b"&lt;script&gt;x&lt;/script&gt;Eve" in response.content
    assert b"<script>" not in response.content
    assert "sandbox" in response["Content-Security-Policy"]
    assert "script-src" not in response["Content-Security-Policy"]  # default-src 'none' applies


def test_view_in_browser_refuses_someone_elses_link(client, campaign, ann):
    token = links.default_signer().token("v", campaign.pk, ann.pk)
    signature = token.rpartition(".")[2]
    other = f"v.{campaign.pk}.{ann.pk + 1}.{signature}"
    assert client.get(f"/v/{other}/").status_code == 404
