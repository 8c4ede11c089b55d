"""Settings → API tokens in chromium, on a laptop (1280) and a phone (375): make a token
narrowed to a scope and a list, copy it from the one answer that shows it, call the API
with it, find it listed without its secret, revoke it after the confirmation."""

import pytest
from django.test import Client
from playwright.sync_api import expect

from postroom.accounts.models import Profile, Role
from postroom.api import tokens
from postroom.api.models import ApiToken
from postroom.audience.models import MailingList
from tests.browser.conftest import ARTIFACTS
from tests.browser.test_shell import overflows_horizontally

SIZES = {"desktop": (1280, 800, False), "phone": (375, 812, True)}


def api_status(secret: str) -> int:
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}").get("/api/lists").status_code


@pytest.mark.parametrize("size", list(SIZES))
def test_an_owner_makes_a_token_sees_it_once_and_revokes_it(
    make_page, owner, django_user_model, size
):
    width, height, mobile = SIZES[size]
    MailingList.objects.create(name="News")
    MailingList.objects.create(name="Staff only")
    script = django_user_model.objects.create_user("script", is_staff=True)
    Profile.objects.create(user=script, role=Role.EDITOR)
    tokens.create(script, "nightly export", ["read"])

    page = make_page(width=width, height=height, user=owner, mobile=mobile)
    page.goto("/")
    if mobile:
        page.get_by_role("button", name="Menu").click()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    assert not overflows_horizontally(page)  # the settings page, with its new link
    page.screenshot(path=str(ARTIFACTS / f"api-tokens-settings-{size}.png"), full_page=True)
    page.get_by_role("link", name="API tokens").click()
    expect(page.get_by_role("heading", name="All tokens")).to_be_visible()
    expect(page.get_by_role("row", name="nightly export")).to_contain_text("script")

    page.get_by_label("Name").fill("shop")
    page.get_by_label("send — campaigns and transactional mail", exact=False).check()
    page.get_by_label("News").check()
    page.get_by_role("button", name="Create token").click()

    shown = page.get_by_role("region", name="Your new token “shop”")
    expect(shown).to_contain_text("you will not see it again")
    field = shown.get_by_label("Token")
    expect(field).to_have_attribute("readonly", "")
    secret = field.input_value()
    assert secret.startswith("pr_")
    row = page.get_by_role("row", name="shop")
    expect(row).to_contain_text("only the lists News")
    expect(row).to_contain_text("not used yet")
    assert not overflows_horizontally(page)
    page.screenshot(path=str(ARTIFACTS / f"api-tokens-shown-once-{size}.png"), full_page=True)
    assert api_status(secret) == 200

    page.goto("/settings/tokens/")
    expect(page.get_by_role("region", name="Your new token “shop”")).to_have_count(0)
    assert secret not in page.content()
    row = page.get_by_role("row", name="shop")
    expect(row.locator("time")).to_have_count(2)  # created, and the call above
    assert not overflows_horizontally(page)

    questions = []

    def confirm(dialog):
        questions.append(dialog.message)
        dialog.accept()

    page.on("dialog", confirm)
    row.get_by_role("button", name="Revoke shop").click()
    expect(page.get_by_text("Token “shop” of owner revoked: it no longer works.")).to_be_visible()
    assert questions == ["Revoke the token “shop” of owner? What uses it stops working at once."]
    assert api_status(secret) == 401
    assert list(ApiToken.objects.values_list("name", flat=True)) == ["nightly export"]


@pytest.mark.parametrize("size", list(SIZES))
def test_a_viewer_sees_only_their_own_tokens_and_a_refusal_keeps_what_was_typed(
    make_page, django_user_model, size
):
    width, height, mobile = SIZES[size]
    vera = django_user_model.objects.create_user("vera", is_staff=True)
    Profile.objects.create(user=vera, role=Role.VIEWER)
    other = django_user_model.objects.create_user("other", is_staff=True)
    tokens.create(other, "not yours")
    tokens.create(vera, "reports", ["read"])

    page = make_page(width=width, height=height, user=vera, mobile=mobile)
    page.goto("/settings/tokens/")
    expect(page.get_by_role("heading", name="Your tokens")).to_be_visible()
    expect(page.get_by_role("row", name="reports")).to_contain_text("read only")
    expect(page.get_by_text("not yours")).to_have_count(0)
    expect(page.get_by_role("columnheader", name="User")).to_have_count(0)

    page.get_by_label("Name").fill("x" * 100)
    page.get_by_label("Name").evaluate("input => input.removeAttribute('maxlength')")
    page.get_by_label("Name").fill("x" * 101)
    page.get_by_role("button", name="Create token").click()
    expect(page.get_by_text("Ensure this value has at most 100 characters")).to_be_visible()
    expect(page.get_by_label("Name")).to_have_value("x" * 101)
    assert ApiToken.objects.filter(user=vera).count() == 1
    assert not overflows_horizontally(page)
