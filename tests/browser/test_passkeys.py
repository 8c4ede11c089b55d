"""Passkeys in chromium with a virtual authenticator (Chrome DevTools Protocol's WebAuthn
domain): add one on the two-factor page, log out, sign in with it alone; a passkey
removed from Postroom no longer signs anyone in."""

import pytest
from playwright.sync_api import expect

from postroom.accounts.models import AuditEntry, Passkey, Profile, Role
from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.test_shell import overflows_horizontally


@pytest.fixture(autouse=True)
def relying_party(settings, live_server):
    # The passkey belongs to the host people reach Postroom at: here, the live server.
    settings.POSTROOM_BASE_URL = live_server.url


def operator(django_user_model, name: str, role: Role):
    user = django_user_model.objects.create_user(
        name, f"{name}@example.org", "a long test passphrase", is_staff=True
    )
    Profile.objects.create(user=user, role=role)
    return user


def with_authenticator(page) -> str:
    """A platform authenticator that verifies its user (as a fingerprint would)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    answer = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return answer["authenticatorId"]


def add_passkey(page, name: str) -> None:
    page.goto("/settings/two-factor/")
    page.get_by_label("Name of the new passkey").fill(name)
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.get_by_text(f"Passkey '{name}' added")).to_be_visible()


def log_out(page) -> None:
    """On a phone the log-out button sits in the menu."""
    menu = page.get_by_role("button", name="Menu")
    if menu.is_visible():
        menu.click()
    page.get_by_role("button", name="Log out").click()


def test_a_passkey_is_added_then_signs_in_without_a_password(make_page, django_user_model):
    people = [("ada", Role.ADMIN, DESKTOP, False), ("ed", Role.EDITOR, PHONE, True)]
    for name, role, size, mobile in people:
        user = operator(django_user_model, name, role)
        page = make_page(**size, user=user, mobile=mobile)
        with_authenticator(page)
        add_passkey(page, f"{name} laptop")
        expect(page.get_by_text("not used yet")).to_be_visible()
        assert not overflows_horizontally(page)
        log_out(page)
        page.goto("/campaigns/")
        page.get_by_role("button", name="Sign in with a passkey").click()
        expect(page.get_by_role("heading", name="Campaigns")).to_be_visible()
        assert page.url.endswith("/campaigns/")
        page.goto("/settings/two-factor/")
        expect(page.get_by_text("last used")).to_be_visible()
        assert AuditEntry.objects.filter(action="login", username=name).exists()
    assert Passkey.objects.count() == 2


def test_a_removed_passkey_signs_nobody_in(make_page, django_user_model):
    user = operator(django_user_model, "vera", Role.VIEWER)
    page = make_page(**PHONE, user=user, mobile=True)
    with_authenticator(page)
    add_passkey(page, "old phone")
    page.once("dialog", lambda dialog: dialog.accept())  # "Remove the passkey old phone?"
    page.get_by_role("button", name="Remove old phone").click()
    expect(page.get_by_text("Passkey 'old phone' removed.")).to_be_visible()
    log_out(page)
    page.goto("/login/")
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page.get_by_role("alert")).to_contain_text("this passkey is not registered here")
    assert page.url.endswith("/login/")
    assert AuditEntry.objects.filter(action="login failed", detail__startswith="passkey").exists()
