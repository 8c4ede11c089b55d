"""Public pages and the admin in German and Simplified Chinese, in a real browser at 375
and 1280 pixels: the words, the page's lang attribute, and nothing wider than the screen."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from postroom.accounts.models import Profile
from postroom.audience import services as audience
from postroom.automations import services as automations
from postroom.campaigns.models import Campaign, TrackedLink
from postroom.delivery import control
from postroom.delivery.models import Delivery, Sender
from postroom.feeds import services as feeds
from postroom.feeds.models import FeedItem
from postroom.media import services as media
from postroom.media.models import MediaFile
from postroom.tracking import links
from postroom.tracking.models import EngagementEvent
from tests.browser.conftest import ARTIFACTS
from tests.delivery.helpers import make_audience, make_campaign
from tests.media.pictures import png

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


# Admin pages translated for issue 18: the h1 each shows in German and Chinese.
ADMIN_PAGES = {
    "/senders/": {"de": "Absender", "zh-hans": "发件服务器"},
    "/outbox/": {"de": "Ausgang", "zh-hans": "发件箱"},
    "/imports/": {"de": "Importe", "zh-hans": "导入"},
    "/imports/new/": {"de": "Datei importieren", "zh-hans": "导入文件"},
    "/bounces/": {"de": "Bounces", "zh-hans": "退信"},
    "/settings/webhooks/": {"de": "Webhooks", "zh-hans": "Webhook"},
    "/settings/users/": {"de": "Benutzer", "zh-hans": "用户"},
    "/settings/tokens/": {"de": "API-Tokens", "zh-hans": "API 令牌"},
    "/settings/audit/": {"de": "Audit-Protokoll", "zh-hans": "审计日志"},
    "/transactional/": {"de": "Transaktionale E-Mails", "zh-hans": "事务邮件"},
    "/settings/two-factor/": {"de": "Zwei-Faktor-Anmeldung", "zh-hans": "双重验证登录"},
    "/automations/": {"de": "Automatisierungen", "zh-hans": "自动化"},
    "/automations/new/": {"de": "Neue Sequenz", "zh-hans": "新建序列"},
    "/feeds/": {"de": "Feeds", "zh-hans": "订阅源"},
    "/feeds/new/": {"de": "Neuer Feed", "zh-hans": "新建订阅源"},
    "/media/": {"de": "Medien", "zh-hans": "媒体库"},
}
# English words that would give away a string left untranslated in a heading, a table
# header, a label or a button (the product names Webhooks, Token, Server, Status are the
# same in German, and so are Name and Passkeys). A webhook event's and a token scope's
# description are translated too; only the event's key ("delivery.failed — …") stays.
ENGLISH = re.compile(
    r"\b(the|and|of|yet|Add|Delete|Save|Cancel|Send|Search|Filter|Download|Export|Create|"
    r"Remove|Poll|Test|Invite|Role|Lists|Last|When|Subject|Recipient|Address|Source|Type|"
    r"Mailbox|Rows|File|Created|Events|Step|Steps|People|Upload|Images|Feed address|Check|"
    r"Who|Wait|Then|Branch|Attribute|Sender|Library)\b"
)


@pytest.fixture
def waiting_sender(transactional_db):
    """A sender that has failed for three minutes, so its page shows why it waits."""
    now = timezone.now()
    return Sender.objects.create(
        name="mx-eins",
        host="smtp.example.org",
        port=587,
        failing_since=now - timedelta(minutes=3),
        consecutive_failures=4,
        backoff_until=now + timedelta(seconds=25),
        last_error="connection refused",
    )


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("language", BROWSERS)
def test_the_admin_pages_are_translated_with_nothing_left_in_english(
    make_page, owner, waiting_sender, language, size
):
    Profile.objects.create(user=owner, role="owner", language=language)
    # First: the reason names how long ago the sender failed, in minutes.
    senders = make_page(**SIZES[size], user=owner)
    senders.goto("/senders/")
    reason = senders.locator("[data-waiting]")
    if language == "de":
        expect(reason).to_contain_text("Wartet seit")
        expect(reason).to_contain_text("(vor 3 Min.) auf Absender 'mx-eins', nächster Versuch in")
    else:
        # "(3 min ago) ... waiting for sender", in full-width brackets
        expect(reason).to_contain_text("\uff083 分钟前\uff09起等待发件服务器 'mx-eins'")
    for path, headings in ADMIN_PAGES.items():
        page = make_page(**SIZES[size], user=owner)

        page.goto(path)

        expect(page.locator("html")).to_have_attribute("lang", language)
        expect(page.locator("main h1")).to_have_text(headings[language])
        words = page.locator(
            "main h1, main h2, main h3, main th, main label, main button, main legend, main a.btn"
        ).all_inner_texts()
        left = [w for w in words if ENGLISH.search(w)]
        assert not left, f"{language} {path}: still English: {left}"
        fits(page)


@pytest.fixture
def filled(owner, settings, live_server, media_dir):
    """A sequence with steps and someone in it, a feed with items, an image and a file."""
    settings.POSTROOM_BASE_URL = live_server.url
    news = audience.create_list("Nachrichten")
    welcome = automations.create(
        name="Willkommen", trigger="joined:Nachrichten", from_email="hallo@example.org"
    )
    automations.add_step(welcome, "send", subject="Hallo {{ subscriber.name }}", body="Schön.")
    automations.add_step(welcome, "tag", wait="3d", wait_time="09:00", tag="begrüßt")
    automations.add_step(welcome, "branch", condition={"if": "opened", "step": 1}, goto=0)
    automations.activate(welcome)
    automations.enrol(welcome, audience.add_subscriber("lea@example.org", lists=[news]))
    blog = feeds.create_feed(name="Blog", url="https://blog.example.org/feed.xml", lists=[news])
    FeedItem.objects.create(feed=blog, guid="p1", title="Erster Beitrag", link="https://x.org/1")
    media.upload("logo.png", png(240, 80), image=True)
    media.upload("preise.pdf", b"%PDF-1.4 Preise", image=False)
    return {"automation": welcome, "feed": blog}


@pytest.mark.parametrize("size", SIZES)
def test_the_automation_feed_and_media_pages_are_in_german(make_page, owner, filled, size):
    Profile.objects.create(user=owner, role="owner", language="de")
    automation, feed = filled["automation"].pk, filled["feed"].pk
    logo = MediaFile.objects.get(name="logo.png").pk
    pages = {
        f"/automations/{automation}/": "Willkommen",
        f"/automations/{automation}/steps/2/": "Schritt 2 von „Willkommen“",
        "/automations/": "Automatisierungen",
        f"/feeds/{feed}/": "Blog",
        "/feeds/": "Feeds",
        "/media/": "Medien",
        f"/media/{logo}/delete/": "logo.png löschen?",
    }
    for number, (path, heading) in enumerate(pages.items()):
        page = make_page(**SIZES[size], user=owner)

        page.goto(path)

        expect(page.locator("main h1")).to_contain_text(heading)
        words = page.locator(
            "main h1, main h2, main h3, main th, main label, main button, main legend, main a.btn,"
            " main dt, main p, main li, main .stat-label, main .help, main .helptext"
        ).all_inner_texts()
        left = [w for w in words if ENGLISH.search(w)]
        assert not left, f"{path}: still English: {left}"
        fits(page)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"de-{size}-{number}.png"), full_page=True)
    detail = make_page(**SIZES[size], user=owner)
    detail.goto(f"/automations/{automation}/")
    steps = detail.locator("#step-list li")
    expect(steps.nth(0)).to_contain_text("„Hallo {{ subscriber.name }}“ senden")
    expect(steps.nth(1)).to_contain_text("3d warten, dann bis jeder Tag 09:00 Ortszeit")
    expect(steps.nth(2)).to_contain_text("wenn Schritt 1 geöffnet: die Sequenz verlassen")
    expect(detail.locator(".subtitle")).to_contain_text("Wer eintritt: ist einer Liste beigetreten")


# The campaign pages (issue 18): the list, a sent campaign, the editor of a draft and the
# sent one's statistics, each with words it must show in the user's language.
CAMPAIGN_WORDS = {
    "de": {
        "list": ("Kampagnen", "Öffnungen", "Abgeschlossen"),
        "detail": ("Test senden", "Betreff", "Duplizieren"),
        "editor": ("Sendefenster", "Absenderadresse", "Nur zwischen"),
        "statistics": ("Klickkarte", "Öffnungen und Klicks von Menschen", "Zurück zur Kampagne"),
    },
    "zh-hans": {
        "list": ("营销活动", "打开", "已完成"),
        "detail": ("发送测试邮件", "主题", "复制"),
        "editor": ("发送时段", "发件地址", "仅在此时段"),
        "statistics": ("点击分布", "真人打开与点击", "返回营销活动"),
    },
}


# "Test" is German too ("Test senden"), and "[Test] " is the subject's prefix in every language.
CAMPAIGN_ENGLISH = re.compile(
    ENGLISH.pattern.replace("Test|", "")[:-3]
    + "|Schedule|Preview|Duplicate|Statistics|Opens|Tracking|Audience|Edit|Grouped|Period|"
    r"Share|People|Unsubscribes|Heading|Bold|Insert|Undo|Variables|Weights)\b"
)

# Headings, labels and buttons, but not the media library's part of the editor (its own pages).
CAMPAIGN_TEXTS = ", ".join(
    f"main {tag}:not(.media-fieldset *, #media-picker-dialog *)"
    for tag in ("h1", "h2", "h3", "th", "label", "button", "legend", "a.btn")
)


def campaigns_to_show() -> dict[str, str]:
    """A campaign sent to three people (one opened and clicked) and a draft: their pages."""
    news = make_audience(3)
    sent = make_campaign(news, name="Stadtteilzeitung", body="[Termine](https://example.com/t)")
    control.start(sent)
    started = timezone.now() - timedelta(hours=5)
    Campaign.objects.filter(pk=sent.pk).update(
        status="finished", started_at=started, finished_at=started + timedelta(minutes=2)
    )
    Delivery.objects.filter(campaign=sent).update(state="sent", sent_at=started)
    link = TrackedLink.objects.create(campaign=sent, number=1, url="https://example.com/t")
    reader = Delivery.objects.filter(campaign=sent).first().subscriber_id
    for kind in ("open", "click"):
        EngagementEvent.objects.create(
            campaign=sent, subscriber_id=reader, kind=kind, at=started + timedelta(hours=1),
            link=link if kind == "click" else None,
        )  # fmt: skip
    draft = make_campaign(news, name="Wochenbrief", window_start="09:00", window_end="17:00")
    return {
        "list": "/campaigns/",
        "detail": f"/campaigns/{sent.pk}/",
        "editor": f"/campaigns/{draft.pk}/edit/",
        "statistics": f"/campaigns/{sent.pk}/statistics/",
    }


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("language", BROWSERS)
def test_the_campaign_pages_speak_the_users_language(
    make_page, owner, transactional_db, language, size
):
    Profile.objects.create(user=owner, role="owner", language=language)
    for name, path in campaigns_to_show().items():
        page = make_page(**SIZES[size], user=owner)

        page.goto(path, wait_until="domcontentloaded")  # the words, not every script

        expect(page.locator("html")).to_have_attribute("lang", language)
        for words in CAMPAIGN_WORDS[language][name]:
            expect(page.locator("main").get_by_text(words, exact=False).first).to_be_attached()
        words = page.locator(CAMPAIGN_TEXTS).all_inner_texts()
        left = [w for w in words if CAMPAIGN_ENGLISH.search(w)]
        assert not left, f"{language} {path}: still English: {left}"
        fits(page)
