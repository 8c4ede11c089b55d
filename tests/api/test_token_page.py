"""Settings → API tokens: a token made on the page is shown once and works against the API;
the list never shows a secret; revoking makes it 401; only admins touch other people's;
bad input makes nothing."""

import re

import pytest
from django.test import Client

from postroom.accounts.models import AuditEntry, Profile, Role
from postroom.api import tokens
from postroom.api.models import ApiToken
from postroom.audience.models import MailingList

PAGE = "/settings/tokens/"
SECRET = re.compile(r'value="(pr_[^"]+)"')


@pytest.fixture
def person(django_user_model):
    """person("vera", Role.VIEWER, lists=[ml]): an active staff user with that role."""

    def make(username: str, role: Role, lists=()):
        user = django_user_model.objects.create_user(
            username, f"{username}@example.org", is_staff=True
        )
        profile = Profile.objects.create(user=user, role=role)
        profile.lists.set(lists)
        return user

    return make


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def bearer(secret: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")


def test_a_viewer_makes_a_token_shown_once_that_reads_the_api_as_them(db, person):
    news = MailingList.objects.create(name="News")
    MailingList.objects.create(name="Other")
    vera = person("vera", Role.VIEWER)
    client = logged_in(vera)

    made = client.post(PAGE, {"name": "dashboard", "scopes": ["read"], "lists": [news.pk]})
    assert made.status_code == 201
    assert "no-store" in made["Cache-Control"]
    page = made.content.decode()
    assert "you will not see it again" in page
    (secret,) = SECRET.findall(page)
    token = ApiToken.objects.get()
    assert (token.user, token.name, token.scopes) == (vera, "dashboard", ["read"])
    assert [ml.name for ml in token.lists.all()] == ["News"]

    api = bearer(secret)
    assert [row["name"] for row in api.get("/api/lists").json()] == ["News"]
    # A token acts with its user's role: a viewer's token changes nothing.
    assert api.post("/api/lists", {"name": "x"}, content_type="application/json").status_code == 403

    again = client.get(PAGE).content.decode()
    assert secret not in again and 'id="token-secret"' not in again
    assert "dashboard" in again and token.hint in again
    assert "read only: no change of any kind; only the lists News" in again
    entry = AuditEntry.objects.get(action="API token created")
    assert (entry.username, entry.target) == ("vera", "dashboard")


def test_the_list_shows_hints_and_times_never_a_secret(db, person):
    ed = person("ed", Role.EDITOR)
    token, secret = tokens.create(ed, "shop", ["send"])
    assert bearer(secret).get("/api/lists").status_code == 200  # now it has been used
    page = logged_in(ed).get(PAGE).content.decode()
    assert secret not in page and secret[10:20] not in page
    assert f"{token.hint}…" in page
    assert "campaigns and transactional mail" in page
    assert "not used yet" not in page  # the call above is its last use
    assert page.count("<time datetime=") == 2  # created and last used, as the UI shows times


def test_revoking_makes_the_token_401_and_is_recorded(db, person):
    ed = person("ed", Role.EDITOR)
    token, secret = tokens.create(ed, "shop")
    client = logged_in(ed)
    assert bearer(secret).get("/api/lists").status_code == 200

    answer = client.post(f"/settings/tokens/{token.pk}/revoke/")
    assert answer.status_code == 302
    assert bearer(secret).get("/api/lists").status_code == 401
    assert not ApiToken.objects.exists()
    assert AuditEntry.objects.filter(action="API token revoked", target="shop (ed)").exists()
    assert "Token “shop” of ed revoked" in client.get(PAGE).content.decode()


def test_revoking_needs_a_post(db, person):
    ed = person("ed", Role.EDITOR)
    token, _ = tokens.create(ed, "shop")
    assert logged_in(ed).get(f"/settings/tokens/{token.pk}/revoke/").status_code == 405
    assert ApiToken.objects.count() == 1


def test_revoking_checks_the_csrf_token(db, person):
    ed = person("ed", Role.EDITOR)
    token, _ = tokens.create(ed, "shop")
    client = Client(enforce_csrf_checks=True)
    client.force_login(ed)
    assert client.post(f"/settings/tokens/{token.pk}/revoke/").status_code == 403
    assert ApiToken.objects.count() == 1


def test_someone_elses_token_is_neither_shown_nor_revocable_to_a_non_admin(db, person):
    ann = person("ann", Role.EDITOR)
    ed = person("ed", Role.EDITOR)
    theirs, secret = tokens.create(ann, "ann's shop")
    client = logged_in(ed)
    assert "ann&#x27;s shop" not in client.get(PAGE).content.decode()
    assert client.post(f"/settings/tokens/{theirs.pk}/revoke/").status_code == 404
    assert bearer(secret).get("/api/lists").status_code == 200


def test_an_admin_sees_and_revokes_everyones_tokens(db, person):
    ann = person("ann", Role.EDITOR)
    admin = person("adam", Role.ADMIN)
    theirs, secret = tokens.create(ann, "shop")
    tokens.create(admin, "backups")
    client = logged_in(admin)
    page = client.get(PAGE).content.decode()
    assert "All tokens" in page and "<th>User</th>" in page
    assert "shop" in page and "backups" in page and ">ann<" in page

    assert client.post(f"/settings/tokens/{theirs.pk}/revoke/").status_code == 302
    assert bearer(secret).get("/api/lists").status_code == 401
    assert list(ApiToken.objects.values_list("name", flat=True)) == ["backups"]


def test_an_admin_makes_tokens_for_themselves_only(db, person):
    ann = person("ann", Role.EDITOR)
    admin = person("adam", Role.ADMIN)
    made = logged_in(admin).post(PAGE, {"name": "mine", "user": ann.pk})
    assert made.status_code == 201
    assert ApiToken.objects.get().user == admin


@pytest.mark.parametrize(
    "form, error",
    [
        ({"name": ""}, "This field is required."),
        ({"name": "   "}, "This field is required."),
        ({"name": "x" * 101}, "Ensure this value has at most 100 characters"),
        ({"name": "shop", "scopes": ["everything"]}, "everything is not one of the available"),
        ({"name": "shop", "lists": ["987654"]}, "987654 is not one of the available choices"),
        ({"name": "shop", "lists": ["not-a-number"]}, "“not-a-number” is not a valid value."),
    ],
    ids=["no-name", "blank-name", "long-name", "unknown-scope", "unknown-list", "bad-list"],
)
def test_bad_input_is_refused_with_the_reason_and_makes_nothing(db, person, form, error):
    MailingList.objects.create(name="News")
    client = logged_in(person("ed", Role.EDITOR))
    answer = client.post(PAGE, form)
    assert answer.status_code == 400
    page = answer.content.decode()
    assert error in page
    assert not SECRET.findall(page) and "you will not see it again" not in page
    assert not ApiToken.objects.exists()
    assert not AuditEntry.objects.filter(action="API token created").exists()


def test_a_person_granted_some_lists_is_offered_and_allowed_only_those(db, person):
    ours = MailingList.objects.create(name="Ours")
    theirs = MailingList.objects.create(name="Theirs")
    client = logged_in(person("lena", Role.EDITOR, lists=[ours]))
    page = client.get(PAGE).content.decode()
    assert "Ours" in page and "Theirs" not in page
    answer = client.post(PAGE, {"name": "shop", "lists": [theirs.pk]})
    assert answer.status_code == 400
    assert f"{theirs.pk} is not one of the available choices" in answer.content.decode()
    assert not ApiToken.objects.exists()


def test_without_lists_the_form_offers_none(db, person):
    page = logged_in(person("ed", Role.EDITOR)).get(PAGE).content.decode()
    assert "Only for" in page and "Only these lists" not in page


def test_the_page_waits_for_a_second_factor_the_role_requires(db, person, settings):
    settings.POSTROOM_REQUIRE_2FA = "editor"
    client = logged_in(person("ed", Role.EDITOR))
    answer = client.post(PAGE, {"name": "way round"})
    assert answer.status_code == 302 and answer["Location"] == "/settings/two-factor/"
    assert not ApiToken.objects.exists()


def test_the_settings_page_links_to_it(db, person):
    page = logged_in(person("vera", Role.VIEWER)).get("/settings/").content.decode()
    assert f'href="{PAGE}"' in page


def test_a_reload_that_posts_the_form_again_makes_no_second_token(db, person):
    vera = person("vera", Role.VIEWER)
    client = logged_in(vera)
    key = re.search(r'name="once" value="([^"]+)"', client.get(PAGE).content.decode()).group(1)

    made = client.post(PAGE, {"name": "dashboard", "once": key})
    again = client.post(PAGE, {"name": "dashboard", "once": key}, follow=True)

    assert made.status_code == 201
    assert ApiToken.objects.count() == 1
    assert "sent already" in again.content.decode()
    assert not SECRET.findall(again.content.decode())  # the secret is never shown twice
    fresh = re.search(r'name="once" value="([^"]+)"', made.content.decode()).group(1)
    assert fresh != key  # the page after it carries a new key: another token can be made
    assert client.post(PAGE, {"name": "second", "once": fresh}).status_code == 201
    assert ApiToken.objects.count() == 2
