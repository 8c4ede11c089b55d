"""The campaign editor's visual mode in a real browser: typing, a button and two columns,
saved and sent through a real SMTP server; the mode switch keeps the content."""

import email
import email.policy

import pytest
from playwright.sync_api import expect

from postroom.accounts.models import Profile
from postroom.audience import services as audience
from postroom.audience.models import MailingList
from postroom.campaigns import services
from postroom.campaigns.models import Campaign
from postroom.delivery.models import Sender
from postroom.testing.smtpserver import CaptureServer
from tests.browser.conftest import ARTIFACTS, DESKTOP


@pytest.fixture
def server(db):
    with CaptureServer() as capture:
        yield capture


def shot(page, name: str, full_page: bool = True) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"visual-editor-{name}.png"), full_page=full_page)


def watch_csp(page) -> list[str]:
    """Every console message about the Content-Security-Policy, to assert there is none."""
    seen: list[str] = []
    page.on(
        "console",
        lambda message: (
            seen.append(message.text)
            if "Content Security Policy" in message.text
            or "Content-Security-Policy" in message.text
            else None
        ),
    )
    return seen


def html_part(raw: bytes) -> str:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    part = message.get_body(("html",))
    assert part is not None
    return part.get_content()


def dialog_insert(page, url: str, text: str | None = None) -> None:
    dialog = page.locator("dialog[open]")
    dialog.get_by_label("Address (URL)").fill(url)
    if text is not None:
        dialog.locator("[data-ve-text]").fill(text)
    dialog.get_by_role("button", name="Insert").click()
    expect(page.locator("dialog[open]")).to_have_count(0)


def test_a_campaign_written_visually_is_saved_and_sent_with_its_blocks(make_page, owner, server):
    news = MailingList.objects.create(name="News")
    audience.add_subscriber("ann@example.com", name="Ann Lee", lists=[news])
    Sender.objects.create(name="Relay", host=server.host, port=server.port, tls="none")
    page = make_page(**DESKTOP, user=owner)
    csp = watch_csp(page)
    page.goto("/campaigns/new/")
    page.get_by_label("Name:", exact=True).fill("Visual news")
    page.get_by_label("Subject:", exact=True).fill("Spring for {{ subscriber.first_name }}")
    page.get_by_label("From address").fill("news@example.org")
    page.get_by_label("News", exact=True).check()
    page.get_by_label("Sender").select_option(label="Relay")

    page.get_by_role("button", name="Visual", exact=True).click()
    expect(page.get_by_role("button", name="Visual", exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )
    surface = page.get_by_role("textbox", name="Body (visual editor)")
    expect(page.locator("textarea[name=body]")).to_be_hidden()
    surface.click()
    page.keyboard.type("Spring is here")
    page.get_by_role("button", name="Heading", exact=True).click()
    page.keyboard.press("End")
    page.keyboard.press("Enter")
    page.keyboard.type("Dear {{ subscriber.first_name }}, the garden is ")
    page.keyboard.press("Control+b")
    page.keyboard.type("open")
    page.keyboard.press("Control+b")
    page.keyboard.type(" again.")

    page.get_by_role("button", name="Button", exact=True).click()
    dialog_insert(page, "https://example.org/garden", "Visit the garden")
    page.get_by_role("button", name="Two columns").click()
    left = surface.locator("td.pr-column").first
    left.locator("p").click(click_count=3)  # the sample text, selected: typing replaces it
    page.keyboard.type("Roses in the left column")
    expect(surface.locator("h2")).to_have_text("Spring is here")
    expect(surface.locator("b")).to_have_text("open")
    expect(surface.locator("table.pr-button a")).to_have_text("Visit the garden")
    expect(left).to_contain_text("Roses in the left column")
    # A button typed into a column stays in it: the columns are not cut in two.
    page.get_by_role("button", name="Button", exact=True).click()
    dialog_insert(page, "https://example.org/roses", "See the roses")
    expect(left.locator("table.pr-button a")).to_have_text("See the roses")
    expect(surface.locator("table.pr-columns td.pr-column")).to_have_count(2)

    # The live preview shows the blocks, rendered for the sample reader.
    desktop = page.frame_locator("iframe.preview-desktop")
    expect(desktop.get_by_role("link", name="Visit the garden")).to_be_visible()
    expect(desktop.get_by_text("Roses in the left column")).to_be_visible()
    expect(desktop.get_by_text("Dear Ada, the garden is")).to_be_visible()
    shot(page, "writing-desktop")
    page.get_by_role("toolbar", name="Formatting").scroll_into_view_if_needed()
    shot(page, "writing-desktop-editor", full_page=False)

    page.get_by_role("button", name="Create draft").click()
    expect(page.get_by_role("heading", name="Visual news")).to_be_visible()
    saved = Campaign.objects.get(name="Visual news")
    assert saved.body_format == "html"
    assert "<h2>Spring is here</h2>" in saved.body
    assert "{{ subscriber.first_name }}" in saved.body
    assert 'class="pr-button"' in saved.body and 'href="https://example.org/garden"' in saved.body
    assert 'class="pr-columns"' in saved.body and "Roses in the left column" in saved.body
    assert saved.body.endswith("</table>"), "no empty paragraphs left at the end"

    card = page.locator("section.card", has=page.get_by_role("heading", name="Send a test"))
    card.get_by_label("Send a test to").fill("me@example.net")
    card.get_by_role("button", name="Send test").click()
    expect(page.get_by_text("Test sent to me@example.net.")).to_be_visible()
    assert len(server.messages) == 1
    sent = html_part(server.messages[0].data)
    assert "<h2" in sent and "Spring is here" in sent
    assert "Visit the garden</a>" in sent and 'bgcolor="#2563eb"' in sent
    assert "Roses in the left column" in sent and 'width="50%"' in sent
    assert "See the roses</a>" in sent
    assert "<b>open</b> again." in sent and "{{" not in sent
    assert csp == []


def test_switching_modes_keeps_the_content_and_asks_before_a_lossy_switch(make_page, owner):
    news = MailingList.objects.create(name="News")
    campaign = services.create_campaign(
        name="Modes", subject="S", from_email="news@example.org", lists=[news],
        body="# Hello {{ subscriber.first_name }}\n\nSome **bold** and [a link](https://x.test/).\n",
    )  # fmt: skip
    page = make_page(**DESKTOP, user=owner)
    csp = watch_csp(page)
    page.goto(f"/campaigns/{campaign.pk}/edit/")
    body = page.locator("textarea[name=body]")
    surface = page.get_by_role("textbox", name="Body (visual editor)")
    expect(page.get_by_role("button", name="Markdown")).to_have_attribute("aria-pressed", "true")

    # Markdown → visual goes through the rendered HTML: nothing is asked, nothing lost.
    page.get_by_role("button", name="Visual", exact=True).click()
    expect(surface.locator("h1")).to_have_text("Hello {{ subscriber.first_name }}")
    expect(surface.locator("strong, b")).to_have_text("bold")
    expect(surface.get_by_role("link", name="a link")).to_have_attribute("href", "https://x.test/")

    # Visual → HTML gives the HTML; back to visual keeps it.
    page.get_by_role("button", name="HTML", exact=True).click()
    expect(body).to_be_visible()
    html = body.input_value()
    assert "<h1>Hello {{ subscriber.first_name }}</h1>" in html
    assert '<a href="https://x.test/">a link</a>' in html
    page.get_by_role("button", name="Visual", exact=True).click()
    expect(surface.locator("h1")).to_have_text("Hello {{ subscriber.first_name }}")
    page.get_by_role("button", name="HTML", exact=True).click()
    assert body.input_value() == html

    # HTML → Markdown drops the formatting: it asks; "no" leaves everything as it was.
    questions: list[str] = []

    def answer(dialog, accept: bool) -> None:
        questions.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", lambda dialog: answer(dialog, False))
    page.get_by_role("button", name="Markdown").click()
    expect(page.get_by_role("button", name="HTML", exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )
    assert body.input_value() == html
    page.once("dialog", lambda dialog: answer(dialog, True))
    page.get_by_role("button", name="Markdown").click()
    expect(page.get_by_role("button", name="Markdown")).to_have_attribute("aria-pressed", "true")
    assert (
        len(questions) == 2 and "formatting, images, buttons and columns are lost" in questions[0]
    )
    text = body.input_value()
    assert "Hello {{ subscriber.first_name }}" in text and "https://x.test/" in text
    assert "<" not in text

    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Modes")).to_be_visible()
    campaign.refresh_from_db()
    assert (
        campaign.body_format == "markdown" and "Hello {{ subscriber.first_name }}" in campaign.body
    )
    assert csp == []


@pytest.mark.parametrize("width", [375, 1280])
def test_the_visual_editor_fits_the_screen(make_page, owner, width):
    news = MailingList.objects.create(name="News")
    campaign = services.create_campaign(
        name="Fits", subject="S", from_email="news@example.org", lists=[news], body_format="html",
        body='<h2>Hello {{ subscriber.first_name }}</h2><p>A long paragraph of text that wraps'
        ' on a phone.</p><table class="pr-button" role="presentation"><tbody><tr>'
        '<td bgcolor="#2563eb"><a href="https://example.org/" style="color:#ffffff">Read more'
        "</a></td></tr></tbody></table>",
    )  # fmt: skip
    page = make_page(width=width, height=800, user=owner, mobile=width < 600)
    page.goto(f"/campaigns/{campaign.pk}/edit/")
    surface = page.get_by_role("textbox", name="Body (visual editor)")
    expect(surface.locator("h2")).to_have_text("Hello {{ subscriber.first_name }}")
    expect(surface.get_by_role("link", name="Read more")).to_be_visible()
    expect(surface.locator("table.pr-button td")).to_have_attribute("bgcolor", "#2563eb")
    expect(page.get_by_role("toolbar", name="Formatting")).to_be_visible()
    surface.scroll_into_view_if_needed()
    wide = page.evaluate("document.scrollingElement.scrollWidth")
    assert wide <= width, f"the page is {wide} px wide on a {width} px screen"
    surface.locator("p").first.click()
    page.keyboard.press("End")
    page.get_by_role("button", name="Image", exact=True).click()
    expect(page.locator("dialog[open]")).to_be_visible()
    shot(page, f"image-dialog-{width}", full_page=False)
    dialog_insert(page, "https://example.org/rose.png", "A rose")
    expect(surface.locator('img[alt="A rose"]')).to_have_attribute(
        "src", "https://example.org/rose.png"
    )
    surface.scroll_into_view_if_needed()
    shot(page, f"editing-{width}", full_page=False)
    shot(page, f"editing-{width}-page")


def test_html_the_visual_editor_would_change_opens_as_html_and_asks_before_visual(make_page, owner):
    news = MailingList.objects.create(name="News")
    rows = (
        "<table><tbody><tr><th>Item</th></tr>{% for item in ['tea', 'cake'] %}<tr><td>"
        "{{ item }}</td></tr>{% endfor %}</tbody></table>"
    )
    campaign = services.create_campaign(
        name="Rows", subject="S", from_email="news@example.org", lists=[news],
        body_format="html", body=rows,
    )  # fmt: skip
    page = make_page(**DESKTOP, user=owner)
    page.goto(f"/campaigns/{campaign.pk}/edit/")
    expect(page.get_by_role("button", name="HTML", exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )
    body = page.locator("textarea[name=body]")
    assert body.input_value() == rows
    questions: list[str] = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    page.get_by_role("button", name="Visual", exact=True).click()
    expect(page.get_by_role("button", name="HTML", exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )
    assert questions and "cannot keep all of this HTML" in questions[0]
    assert body.input_value() == rows


def test_what_the_visual_editor_inserts_and_asks_is_in_the_users_language(make_page, owner):
    Profile.objects.create(user=owner, role="owner", language="de")
    news = MailingList.objects.create(name="News")
    campaign = services.create_campaign(
        name="Deutsch", subject="S", from_email="news@example.org", lists=[news],
        body_format="html", body="<p>Hallo</p>",
    )  # fmt: skip
    page = make_page(**DESKTOP, user=owner)
    page.goto(f"/campaigns/{campaign.pk}/edit/")
    surface = page.get_by_role("textbox", name="Inhalt (visueller Editor)")
    surface.locator("p").first.click()
    page.keyboard.press("End")

    page.get_by_role("button", name="Schaltfläche", exact=True).click()
    page.locator("dialog[open]").get_by_label("Adresse (URL)").fill("https://example.org/")
    page.locator("dialog[open]").get_by_role("button", name="Einfügen").click()
    page.get_by_role("button", name="Zwei Spalten").click()
    questions: list[str] = []
    page.on("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    page.get_by_role("button", name="Markdown", exact=True).click()

    expect(surface.get_by_role("link", name="Weiterlesen")).to_be_visible()
    expect(surface.get_by_text("Linke Spalte")).to_be_visible()
    expect(surface.get_by_text("Rechte Spalte")).to_be_visible()
    assert questions and questions[0].startswith("Zu Markdown wechseln?"), questions
    shot(page, "german-1280")
