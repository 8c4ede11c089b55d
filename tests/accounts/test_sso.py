"""Single sign-on against a real OpenID Connect provider (django-oauth-toolkit, run as a
second server by postroom/testing/oidc.py): claims map to roles at every sign-in,
deactivated people and people with no mapped group are refused, and the password log-in
never depends on the provider."""

import pytest

from postroom.accounts import services
from postroom.accounts.models import AuditEntry, Profile, Role, SsoIdentity
from postroom.accounts.signals import SESSION_ROLE
from postroom.testing.oidc import OidcProvider

CALLBACK = "http://testserver/login/sso/callback/"


@pytest.fixture(scope="module")
def provider(tmp_path_factory):
    """One provider process for the module; it stores the users it knows when it starts."""
    running = OidcProvider(tmp_path_factory.mktemp("oidc"), [CALLBACK])
    for username in ("carol", "dave", "erin", "frank"):
        person(running, username, ["sales"] if username == "dave" else ["staff"])
    with running:
        yield running


@pytest.fixture
def sso_settings(settings, provider):
    settings.POSTROOM_OIDC_ISSUER = provider.issuer
    settings.POSTROOM_OIDC_NAME = "Test SSO"
    settings.OIDC_RP_CLIENT_ID = provider.client_id
    settings.OIDC_RP_CLIENT_SECRET = provider.client_secret
    settings.POSTROOM_OIDC_ROLE_MAP = {"postroom-admins": "admin", "staff": "editor"}
    settings.POSTROOM_OIDC_DEFAULT_ROLE = ""
    return settings


def sign_in(client, provider, username, password="provider pass"):
    """The whole flow: Postroom → the provider's log-in form → back to Postroom."""
    start = client.get("/login/sso/")
    assert start.status_code == 302 and start["Location"].startswith(provider.issuer)
    back = provider.sign_in(start["Location"], username, password)
    assert back.startswith(CALLBACK), back
    return client.get(back.removeprefix("http://testserver"))


def person(provider, username, groups, email=None):
    provider.set_user(username, "provider pass", email or f"{username}@example.org", groups)


@pytest.mark.django_db
def test_a_first_sign_in_makes_a_user_with_the_role_its_groups_map_to(
    client, sso_settings, provider
):
    person(provider, "carol", ["staff", "postroom-admins"])
    response = sign_in(client, provider, "carol")
    assert response.status_code == 302 and response["Location"] == "/"
    user = SsoIdentity.objects.get(issuer=provider.issuer).user
    assert user.username == "carol" and user.email == "carol@example.org"
    assert Profile.objects.get(user=user).role == Role.ADMIN  # the most powerful group wins
    assert not user.has_usable_password()
    assert client.get("/senders/new/").status_code == 200
    assert AuditEntry.objects.filter(action="login", username="carol").exists()


@pytest.mark.django_db
def test_a_group_change_at_the_provider_changes_the_role_at_the_next_sign_in(
    client, sso_settings, provider
):
    person(provider, "carol", ["postroom-admins"])
    sign_in(client, provider, "carol")
    assert client.session[SESSION_ROLE] == "admin"
    client.logout()
    person(provider, "carol", ["staff"])
    sign_in(client, provider, "carol")
    assert Profile.objects.get(user__username="carol").role == Role.EDITOR
    assert client.session[SESSION_ROLE] == "editor"
    assert client.get("/senders/new/").status_code == 403


@pytest.mark.django_db
def test_someone_whose_groups_map_to_no_role_is_refused_with_the_reason(
    client, sso_settings, provider
):
    response = sign_in(client, provider, "dave")
    assert response.status_code == 302 and response["Location"] == "/login/"
    page = client.get("/login/")
    assert b"gives you no role in Postroom" in page.content
    assert "_auth_user_id" not in client.session
    assert not SsoIdentity.objects.exists()
    refused = AuditEntry.objects.get(action="login refused")
    assert refused.username == "dave" and "Test SSO" in refused.detail


@pytest.mark.django_db
def test_a_default_role_lets_in_people_without_a_mapped_group(client, sso_settings, provider):
    sso_settings.POSTROOM_OIDC_DEFAULT_ROLE = "viewer"
    sign_in(client, provider, "dave")
    assert Profile.objects.get(user__username="dave").role == Role.VIEWER


@pytest.mark.django_db
def test_a_deactivated_user_is_refused_and_stays_deactivated(
    client, sso_settings, provider, make_user
):
    make_user("boss", Role.OWNER)
    person(provider, "erin", ["staff"])
    sign_in(client, provider, "erin")
    client.logout()
    services.deactivate("erin")
    response = sign_in(client, provider, "erin")
    assert response["Location"] == "/login/"
    assert b"is deactivated" in client.get("/login/").content
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_a_session_opened_through_the_provider_ends_on_deactivation_or_role_change(
    client, sso_settings, provider, make_user
):
    make_user("boss", Role.OWNER)
    person(provider, "erin", ["staff"])
    sign_in(client, provider, "erin")
    assert client.get("/campaigns/").status_code == 200
    services.set_role("erin", Role.VIEWER)
    assert client.get("/campaigns/").status_code == 302
    sign_in(client, provider, "erin")  # the provider's groups give editor back
    assert client.get("/campaigns/").status_code == 200
    services.deactivate("erin")
    assert client.get("/campaigns/")["Location"].startswith("/login/")


@pytest.mark.django_db
def test_an_existing_user_with_the_verified_email_is_linked_not_duplicated(
    client, sso_settings, provider, make_user
):
    existing = make_user("frank.local", Role.VIEWER)  # frank.local@example.org
    existing.email = "frank@example.org"
    existing.save()
    sign_in(client, provider, "frank")
    assert SsoIdentity.objects.get().user == existing
    assert Profile.objects.get(user=existing).role == Role.EDITOR
    # From now on they sign in at the provider: no password reset link goes to them.
    assert services.for_reset("frank@example.org") is None


@pytest.mark.django_db
def test_a_required_second_factor_is_the_providers_business_for_sso_sessions(
    client, sso_settings, provider, make_user
):
    sso_settings.POSTROOM_REQUIRE_2FA = "all"
    sign_in(client, provider, "carol")
    assert client.get("/campaigns/").status_code == 200
    client.force_login(make_user("pat", Role.EDITOR))  # a password log-in is still led to it
    assert client.get("/campaigns/")["Location"] == "/settings/two-factor/"


@pytest.mark.django_db
def test_a_replayed_callback_is_refused(client, sso_settings, provider):
    start = client.get("/login/sso/")
    back = provider.sign_in(start["Location"], "carol", "provider pass")
    path = back.removeprefix("http://testserver")
    assert client.get(path)["Location"] == "/"
    client.logout()
    replay = client.get(path)
    assert replay["Location"] == "/login/"
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_a_provider_that_is_down_leaves_the_password_log_in_alone(client, settings, make_user):
    settings.POSTROOM_OIDC_ISSUER = "http://127.0.0.1:9/o"  # nothing listens on port 9
    settings.POSTROOM_OIDC_NAME = "Test SSO"
    make_user("ed", Role.EDITOR)
    page = client.get("/login/")
    assert b"Sign in with Test SSO" in page.content
    logged_in = client.post("/login/", {"username": "ed", "password": "a long test passphrase"})
    assert logged_in.status_code == 302 and logged_in["Location"] == "/"
    client.logout()
    failed = client.get("/login/sso/")
    assert failed["Location"] == "/login/"
    assert b"Signing in with Test SSO did not work" in client.get("/login/").content


@pytest.mark.django_db
def test_without_an_issuer_there_is_no_button_and_no_sso_pages(client):
    assert b"/login/sso/" not in client.get("/login/").content
    assert client.get("/login/sso/").status_code == 404
    assert client.get("/login/sso/callback/?code=x&state=y").status_code == 404
