"""Users, the audit log and a locked log-in, in a real browser at desktop and phone width."""

from playwright.sync_api import expect

from postroom.accounts import audit, throttle
from postroom.accounts.models import Profile, Role
from tests.browser.test_shell import overflows_horizontally


def team(django_user_model, owner):
    for name, role in [("ada", Role.ADMIN), ("ed", Role.EDITOR), ("vera", Role.VIEWER)]:
        user = django_user_model.objects.create_user(
            name, f"{name}@example.org", "a long test passphrase", is_staff=True
        )
        Profile.objects.create(user=user, role=role)
    for _ in range(5):
        throttle.record_failure("ed", "198.51.100.7")
    audit.record(
        None,
        "campaign_control start",
        "POST /campaigns/3/delivery/start/",
        "done (302)",
        user=owner,
    )
    audit.record(None, "login failed", username="ed", detail="")


def test_an_owner_invites_someone_and_changes_a_role(make_page, owner, django_user_model):
    team(django_user_model, owner)
    for width, mobile in ((1280, False), (390, True)):
        page = make_page(width=width, height=900, user=owner, mobile=mobile)
        page.goto("/settings/users/")
        expect(page.get_by_role("heading", name="Users", exact=True)).to_be_visible()
        expect(page.get_by_text("locked")).to_be_visible()
        assert not overflows_horizontally(page)
    page.get_by_label("Email address").fill("newbie@example.org")
    page.get_by_role("button", name="Send the invitation").click()
    expect(page.get_by_text("Invited newbie@example.org as 'newbie'")).to_be_visible()
    page.get_by_label("Role of vera").select_option("editor")
    page.get_by_label("Role of vera").locator("xpath=..").get_by_role("button").click()
    expect(page.get_by_text("'vera' is now editor.")).to_be_visible()


def test_an_admin_reads_the_audit_log(make_page, owner, django_user_model):
    team(django_user_model, owner)
    for width, mobile in ((1280, False), (390, True)):
        page = make_page(width=width, height=900, user=owner, mobile=mobile)
        page.goto("/settings/audit/")
        expect(page.get_by_role("cell", name="campaign_control start")).to_be_visible()
        assert not overflows_horizontally(page)
    page.get_by_label("Action contains").fill("login")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("cell", name="login failed")).to_be_visible()
    expect(page.get_by_role("cell", name="campaign_control start")).to_have_count(0)


def test_a_locked_account_is_told_why(make_page, owner, django_user_model):
    team(django_user_model, owner)
    page = make_page(width=390, height=844, mobile=True)
    page.goto("/login/")
    page.get_by_label("Username").fill("ed")
    page.get_by_label("Password").fill("a long test passphrase")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("this account is locked for 15 minutes")
    expect(page.get_by_role("link", name="Forgot your password?")).to_be_visible()


def test_two_factor_enrolment_and_log_in(make_page, django_user_model):
    import pyotp

    user = django_user_model.objects.create_user(
        "ada", "ada@example.org", "a long test passphrase", is_staff=True
    )
    Profile.objects.create(user=user, role=Role.ADMIN)
    for width, mobile in ((1280, False), (390, True)):
        page = make_page(width=width, height=900, user=user, mobile=mobile)
        page.goto("/settings/two-factor/")
        expect(page.locator(".qr svg")).to_be_visible()
        assert not overflows_horizontally(page)
    secret = page.locator("#tf-secret").inner_text()
    page.get_by_label("Code from your authenticator app").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on").click()
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    recovery = page.locator(".recovery-codes li").first.inner_text()

    fresh = make_page(width=390, height=844, mobile=True)
    fresh.goto("/login/")
    fresh.get_by_label("Username").fill("ada")
    fresh.get_by_label("Password").fill("a long test passphrase")
    fresh.get_by_role("button", name="Log in").click()
    expect(fresh.get_by_role("heading", name="One more step")).to_be_visible()
    fresh.get_by_label("Code from your authenticator app").fill(recovery)
    fresh.get_by_role("button", name="Log in").click()
    expect(fresh.get_by_role("heading", name="Dashboard")).to_be_visible()
