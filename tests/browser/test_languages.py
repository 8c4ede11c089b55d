"""Public pages and the admin in German and Simplified Chinese, in a real browser at 375
and 1280 pixels: the words, the page's lang attribute, and nothing wider than the screen."""

import pytest
from playwright.sync_api import expect

from postroom.accounts.models import Profile
from postroom.audience import services as audience
from postroom.tracking import links

SIZES = {"phone": {"width": 375, "height": 812, "mobile": True}, "desktop": {"width": 1280}}
BROWSERS = {"de": "de-DE,de;q=0.9", "zh-hans": "zh-CN,zh;q=0.9"}
SUBSCRIBE = {"de": ("Stadtteilzeitung abonnieren", "E-Mail-Adresse", "Abonnieren"),
             "zh-hans": ("订阅 Stadtteilzeitung", "电子邮件地址", "订阅")}  # fmt: skip
THANKS = {"de": "Sehen Sie in Ihr Postfach", "zh-hans": "请查看您的收件箱"}
UNSUBSCRIBE = {"de": "Abbestellen", "zh-hans": "退订"}
DONE = {"de": "Sie haben abbestellt", "zh-hans": "您已退订"}


def fits(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"the page is {width} px wide"


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("language", BROWSERS)
def test_the_sign_up_page_speaks_the_browsers_language(make_page, transactional_db, language, size):
    audience.create_list(
        "Stadtteilzeitung", optin="double", public=True, description="Neues aus dem Viertel"
    )
    page = make_page(**SIZES[size])
    page.set_extra_http_headers({"Accept-Language": BROWSERS[language]})
    heading, label, button = SUBSCRIBE[language]

    page.goto("/subscribe/stadtteilzeitung/")

    expect(page.locator("html")).to_have_attribute("lang", language)
    expect(page.get_by_role("heading", name=heading)).to_be_visible()
    fits(page)
    page.get_by_label(label).fill("lea@example.org")
    page.get_by_role("button", name=button, exact=True).click()
    expect(page.get_by_role("heading", name=THANKS[language])).to_be_visible()
    fits(page)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("language", BROWSERS)
def test_the_unsubscribe_page_speaks_the_subscribers_language(
    make_page, transactional_db, language, size
):
    letters = audience.create_list("Letters", public=True)
    lea = audience.add_subscriber(
        "lea@example.org", lists=[letters], attributes={"language": language}
    )
    page = make_page(**SIZES[size])
    page.set_extra_http_headers({"Accept-Language": "en-GB,en;q=0.9"})  # theirs wins

    page.goto(links.default_signer().unsubscribe_url(0, lea.pk).split("8000", 1)[-1])

    expect(page.locator("html")).to_have_attribute("lang", language)
    fits(page)
    page.get_by_role("button", name=UNSUBSCRIBE[language]).click()
    expect(page.get_by_role("heading", name=DONE[language])).to_be_visible()
    fits(page)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("language", BROWSERS)
def test_the_admin_speaks_the_users_own_language(make_page, owner, language, size):
    Profile.objects.create(user=owner, role="owner", language=language)
    page = make_page(**SIZES[size], user=owner)

    page.goto("/settings/")

    expect(page.locator("html")).to_have_attribute("lang", language)
    expect(page.get_by_label({"de": "Die Sprache", "zh-hans": "界面语言"}[language])).to_have_value(
        language
    )
    fits(page)
