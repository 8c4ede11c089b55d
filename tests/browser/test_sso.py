"""Single sign-on in a real browser: the button on the log-in page, the provider's own
log-in form (django-oauth-toolkit in a second server process), and back into Postroom
with the role the provider's groups map to; a person with no mapped group is told why."""

import re

import pytest
from playwright.sync_api import expect

from postroom.accounts.models import Profile, Role
from postroom.testing.oidc import OidcProvider
from tests.browser.conftest import ARTIFACTS, DESKTOP, PHONE
from tests.browser.test_shell import overflows_horizontally


@pytest.fixture(scope="module")
def provider(tmp_path_factory, live_server):
    running = OidcProvider(
        tmp_path_factory.mktemp("oidc"), [live_server.url + "/login/sso/callback/"]
    )
    running.set_user("carol", "provider pass", "carol@example.org", ["newsletter"])
    running.set_user("dave", "provider pass", "dave@example.org", ["sales"])
    with running:
        yield running


@pytest.fixture(autouse=True)
def sso_settings(settings, provider):
    settings.POSTROOM_OIDC_ISSUER = provider.issuer
    settings.POSTROOM_OIDC_NAME = "Example SSO"
    settings.OIDC_RP_CLIENT_ID = provider.client_id
    settings.OIDC_RP_CLIENT_SECRET = provider.client_secret
    settings.POSTROOM_OIDC_ROLE_MAP = {"newsletter": "editor"}


def sign_in_at_provider(page, username: str) -> None:
    page.get_by_role("link", name="Sign in with Example SSO").click()
    expect(page.get_by_role("heading", name="Test identity provider")).to_be_visible()
    page.get_by_label("Provider user name").fill(username)
    page.get_by_label("Provider password").fill("provider pass")
    page.get_by_role("button", name="Sign in at the provider").click()


def test_a_person_signs_in_through_the_provider_with_the_role_of_their_group(make_page):
    for name, size, mobile in (("desktop", DESKTOP, False), ("phone", PHONE, True)):
        page = make_page(**size, mobile=mobile)
        page.goto("/campaigns/")
        expect(page.get_by_role("link", name="Sign in with Example SSO")).to_be_visible()
        assert not overflows_horizontally(page)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"sso-login-page-{name}.png"), full_page=True)
        sign_in_at_provider(page, "carol")
        expect(page).to_have_url(re.compile(r"^http://localhost:\d+/campaigns/$"))
        expect(page.get_by_role("heading", name="Campaigns")).to_be_visible()
        assert not overflows_horizontally(page)
    assert Profile.objects.get(user__username="carol").role == Role.EDITOR


def test_a_person_without_a_mapped_group_is_told_why(make_page):
    page = make_page(**PHONE, mobile=True)
    page.goto("/login/")
    sign_in_at_provider(page, "dave")
    expect(page.get_by_role("status")).to_contain_text(
        "Not signed in: your account at Example SSO gives you no role in Postroom"
    )
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    assert not Profile.objects.filter(user__username="dave").exists()
