"""Public pages and system emails in the reader's language, the admin in the user's own."""

import email
import email.policy
import html
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import translation

from postroom.accounts.models import Profile
from postroom.audience import services as audience
from postroom.audience.languages import supported
from postroom.audience.models import MailingList, Subscriber, Subscription
from postroom.delivery.models import CampaignEvent, OutboxMessage
from postroom.tracking import links, signups
from postroom.web.templatetags.postroom_ui import CODE_WORDS, code_word
from tests.delivery.helpers import make_audience, make_campaign
from tests.web.pages import PUBLIC, page_urls, world

GERMAN = "de-DE,de;q=0.9,en;q=0.5"
CAMPAIGN_PAGES = {"public_view", "public_archive_entry"}


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()  # sign-up counts and resend pauses
    yield
    cache.clear()


@pytest.fixture
def news(db) -> MailingList:
    return audience.create_list("News", optin="double", public=True)


def path_of(url: str) -> str:
    return urlsplit(url).path


def test_a_public_page_follows_the_browser(client, news):
    response = client.get(f"/subscribe/{news.pk}/", HTTP_ACCEPT_LANGUAGE=GERMAN)

    page = response.content.decode()
    assert response.status_code == 200
    assert '<html lang="de">' in page
    assert "News abonnieren" in page
    assert "E-Mail-Adresse" in page  # the form's own label
    assert "Subscribe" not in page
    assert response["Content-Language"] == "de"
    assert "Accept-Language" in response["Vary"]


def test_without_a_language_the_page_is_in_english(client, news):
    page = client.get(f"/subscribe/{news.pk}/").content.decode()

    assert '<html lang="en">' in page
    assert "Subscribe to News" in page


def test_a_language_postroom_does_not_speak_falls_back_to_english(client, news):
    page = client.get(f"/subscribe/{news.pk}/", HTTP_ACCEPT_LANGUAGE="ja,ko;q=0.8").content
    assert b"Subscribe to News" in page


def test_the_subscribers_own_language_wins_over_the_browser(client, news):
    ann = audience.add_subscriber("ann@example.com", lists=[news], attributes={"language": "fr"})
    url = path_of(links.default_signer().unsubscribe_url(0, ann.pk))

    response = client.get(url, HTTP_ACCEPT_LANGUAGE=GERMAN)

    page = response.content.decode()
    assert '<html lang="fr">' in page
    assert "Ne plus envoyer aucun e-mail à <strong>ann@example.com</strong> ?" in page
    assert response["Content-Language"] == "fr"
    # And after the click, the page that says it is done.
    done = client.post(url, HTTP_ACCEPT_LANGUAGE=GERMAN).content.decode()
    assert "Vous êtes désabonné" in done


def test_the_lists_language_wins_over_the_browser(client, news):
    news.language = "es"
    news.save()

    page = client.get(f"/subscribe/{news.pk}/", HTTP_ACCEPT_LANGUAGE=GERMAN).content.decode()

    assert "Suscribirse a News" in page


def test_a_subscribers_language_is_read_as_people_write_it():
    assert supported("de-AT") == "de"
    assert supported("zh_CN") == "zh-hans"
    assert supported("zh-Hans") == "zh-hans"
    assert supported(" FR ") == "fr"
    assert supported("ja") is None
    assert supported("") is None
    assert supported(42) is None
    assert supported("x" * 100) is None


def test_the_confirmation_email_speaks_the_sign_up_pages_language(client, news):
    response = client.post(
        f"/subscribe/{news.pk}/",
        {"email": "zoe@example.com", "name": "Zoé"},
        HTTP_ACCEPT_LANGUAGE="fr-FR,fr;q=0.9",
    )
    assert "Consultez votre boîte de réception" in response.content.decode()
    signups.process_pending()  # the worker's step sends it, after the request is gone

    stored = OutboxMessage.objects.get()
    message = email.message_from_bytes(bytes(stored.data), policy=email.policy.default)
    assert message["Subject"] == "Confirmez votre abonnement à News"
    page = html.unescape(message.get_body(("html",)).get_content())
    assert '<html lang="fr">' in page
    assert "Veuillez confirmer que vous souhaitez recevoir <strong>News</strong>" in page
    assert "Confirmer mon abonnement" in page
    text = message.get_body(("plain",)).get_content()
    assert "Le lien est valable 7 jours." in text


def test_the_confirmation_email_is_in_the_subscribers_language_whatever_the_browser(client, news):
    audience.add_subscriber("zoe@example.com", attributes={"language": "zh-CN"})
    client.post(f"/subscribe/{news.pk}/", {"email": "zoe@example.com"}, HTTP_ACCEPT_LANGUAGE=GERMAN)
    signups.process_pending()

    message = email.message_from_bytes(
        bytes(OutboxMessage.objects.get().data), policy=email.policy.default
    )
    assert message["Subject"] == "确认订阅 News"
    # The HTML part writes non-ASCII text as character references: read it as a browser does.
    assert "请确认您希望在此地址接收" in html.unescape(message.get_body(("html",)).get_content())


def test_the_archive_tells_languages_apart_in_its_etag(client, db):
    public = audience.create_list("Letters", public=True)
    url = reverse("public_archive", args=[public.uuid])

    english = client.get(url)
    german = client.get(url, HTTP_ACCEPT_LANGUAGE=GERMAN)

    assert "Frühere Ausgaben" in german.content.decode()
    assert english["ETag"] != german["ETag"]
    again = client.get(url, HTTP_ACCEPT_LANGUAGE=GERMAN, HTTP_IF_NONE_MATCH=english["ETag"])
    assert again.status_code == 200  # an English copy is no answer to a German reader


def test_the_admin_is_in_the_language_the_user_picked(client, owner):
    client.force_login(owner)
    assert "Dashboard" in client.get(reverse("dashboard")).content.decode()

    response = client.post(reverse("language"), {"language": "zh-hans"}, follow=True)

    assert response.status_code == 200
    assert "您的语言设置已保存。" in response.content.decode()
    assert Profile.objects.get(user=owner).language == "zh-hans"
    page = client.get(reverse("dashboard"), HTTP_ACCEPT_LANGUAGE=GERMAN)
    text = page.content.decode()
    assert '<html lang="zh-hans">' in text
    assert "概览" in text and "营销活动" in text
    assert page["Content-Language"] == "zh-hans"


def test_the_chosen_language_comes_back_at_the_next_log_in(client, owner):
    Profile.objects.create(user=owner, role="owner", language="de")

    client.post(reverse("login"), {"username": "owner", "password": "pw-owner-1"})

    assert "Abmelden" in client.get(reverse("dashboard")).content.decode()


def test_public_pages_ignore_the_admins_own_language(client, owner, news):
    Profile.objects.create(user=owner, role="owner", language="zh-hans")
    client.post(reverse("login"), {"username": "owner", "password": "pw-owner-1"})

    page = client.get(f"/subscribe/{news.pk}/", HTTP_ACCEPT_LANGUAGE=GERMAN).content.decode()

    assert "News abonnieren" in page


def test_an_unknown_language_is_refused_and_changes_nothing(client, owner):
    Profile.objects.create(user=owner, role="owner", language="fr")
    client.force_login(owner)

    response = client.post(reverse("language"), {"language": "klingon"})

    assert response.status_code == 400
    assert "pas une langue que Postroom parle" in response.content.decode()
    assert Profile.objects.get(user=owner).language == "fr"


def test_back_to_the_browsers_language(client, owner):
    Profile.objects.create(user=owner, role="owner", language="fr")
    client.force_login(owner)

    client.post(reverse("language"), {"language": ""})

    assert Profile.objects.get(user=owner).language == ""
    assert (
        "Übersicht"
        in client.get(reverse("dashboard"), HTTP_ACCEPT_LANGUAGE=GERMAN).content.decode()
    )


def test_choosing_a_language_needs_a_log_in(client, db):
    response = client.post(reverse("language"), {"language": "de"})
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


@pytest.mark.django_db(transaction=True)
def test_every_page_renders_in_every_shipped_language(owner):
    """A translation with a broken placeholder fails only when rendered in its language."""
    urls = page_urls(world())
    for code, _ in settings.LANGUAGES:
        Profile.objects.update_or_create(user=owner, defaults={"role": "owner", "language": code})
        admin, anonymous = Client(), Client(HTTP_ACCEPT_LANGUAGE=code)
        admin.force_login(owner)
        seen = 0
        for name, paths in urls.items():
            for path in paths:
                response = (anonymous if name in PUBLIC else admin).get(path)
                if response.status_code == 405:  # an action (POST only), not a page
                    continue
                assert response.status_code in (200, 302), f"{code} {path}: {response.status_code}"
                if name in CAMPAIGN_PAGES:  # the author's email, in the author's language
                    continue
                if response.status_code == 200 and "<html" in response.content.decode()[:300]:
                    assert f'lang="{code}"' in response.content.decode()[:300], f"{code} {path}"
                    seen += 1
        assert seen >= 40, code


def test_every_stored_state_and_source_has_a_word_in_each_language():
    states = [*Subscriber.Status.values, *Subscription.Status.values, *CampaignEvent.Kind.values]
    assert set(states + Subscription.Source.values) <= set(CODE_WORDS)
    for language in ("de", "fr", "es", "zh-hans"):
        with translation.override(language):
            words = {state: code_word(state) for state in states}
        assert all(word != state for state, word in words.items()), (language, words)


def test_a_subscribers_page_shows_their_states_and_consent_in_the_users_language(client, owner):
    Profile.objects.create(user=owner, role="owner", language="de")
    news = audience.create_list("Nachrichten", optin="double")
    lea = audience.add_subscriber("lea@example.org", lists=[news], source="import")
    client.force_login(owner)

    text = client.get(reverse("subscriber_detail", args=[lea.pk])).content.decode()

    assert '<span class="badge active">aktiv</span>' in text
    assert '<span class="badge unconfirmed">unbestätigt</span>' in text
    assert "Import, " in text


def test_what_a_campaign_action_says_is_in_the_users_language(client, owner):
    Profile.objects.create(user=owner, role="owner", language="fr")
    campaign = make_campaign(make_audience(3))
    client.force_login(owner)

    started = client.post(reverse("campaign_control", args=[campaign.pk, "start"]), follow=True)
    limit = {"error_threshold_percent": 25, "error_window": 100}
    lowered = client.post(reverse("campaign_threshold", args=[campaign.pk]), limit, follow=True)

    assert "Envoi lancé pour 3 destinataires." in started.content.decode()
    assert "Elle se met désormais en pause d\u2019elle-même quand plus de 25" in html.unescape(
        lowered.content.decode()
    )
