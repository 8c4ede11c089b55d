"""The import wizard in a real browser: a Mailchimp export ZIP, a sheet, a file of leavers."""

import pytest
from playwright.sync_api import expect

from postroom.audience import services as audience
from postroom.audience.eligibility import mailable_subscribers
from postroom.audience.models import MailingList
from postroom.imports import services
from postroom.imports.models import Import
from tests.browser.conftest import ARTIFACTS, DESKTOP, PHONE
from tests.data import DATA
from tests.imports.sheets import write_xlsx

ZIP = DATA / "exports" / "mailchimp-audience-export.zip"


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return tmp_path


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_a_mailchimp_export_zip_is_recognised_and_nobody_who_left_is_mailable(
    make_page, owner, media, size
):
    news = audience.create_list("News")
    page = make_page(
        **(DESKTOP if size == "desktop" else PHONE), user=owner, mobile=size == "phone"
    )
    page.goto("/imports/new/")
    page.get_by_label("File").set_input_files(str(ZIP))
    page.get_by_label("News").check()
    page.get_by_role("button", name="Upload and preview").click()

    expect(page.get_by_text("Recognised: Mailchimp audience export (3 files).")).to_be_visible()
    files = page.locator("#recognised table")
    expect(files.get_by_text("unsubscribed_members_export_4f1c8e2a9b.csv")).to_be_visible()
    expect(files.get_by_text("Mailchimp cleaned export")).to_be_visible()
    # The whole-file dry run says what each state will be, before anything is written.
    expect(page.get_by_text("20 people will be imported as unsubscribed")).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(
        path=str(ARTIFACTS / f"imports-mailchimp-zip-preview-{size}.png"), full_page=True
    )
    assert Import.objects.get().status == "draft"
    assert not mailable_subscribers([news]).exists()

    page.get_by_role("button", name="Step 3: run the import").click()
    expect(page.get_by_text("waiting for a worker")).to_be_visible()
    assert services.run_pending() is True
    page.reload()
    expect(page.locator("#imported-as")).to_contain_text(
        "20 people were imported as unsubscribed; 5 people were imported as bounced"
    )
    assert mailable_subscribers([news]).count() == 10


def test_a_file_of_leavers_asks_for_a_status_and_the_override_is_shown_with_who(
    make_page, owner, media, tmp_path
):
    MailingList.objects.create(name="News")
    leavers = tmp_path / "unsubscribed.csv"
    leavers.write_text("email\nann@example.com\n")
    page = make_page(**DESKTOP, user=owner)
    page.goto("/imports/new/")
    page.get_by_label("File").set_input_files(str(leavers))
    page.get_by_label("News").check()
    page.get_by_role("button", name="Upload and preview").click()
    expect(page.get_by_text("its name 'unsubscribed.csv' suggests people who")).to_be_visible()
    assert Import.objects.count() == 0

    sheet = write_xlsx(
        tmp_path / "people.xlsx", [["E-Mail", "Status"], ["bob@example.com", "active"]]
    )
    page.get_by_label("File").set_input_files(str(sheet))
    page.get_by_label("Subscribe again people who had unsubscribed").check()
    page.get_by_role("button", name="Upload and preview").click()
    expect(page.get_by_text("Read from the sheet “Contacts”.")).to_be_visible()
    expect(page.locator("#override")).to_contain_text(f"chosen by {owner.username} at")
    expect(page.get_by_text("1 person will be imported as subscribed")).to_be_visible()


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_the_finished_import_lists_its_duplicates_and_offers_the_rows_as_csv(
    make_page, owner, media, size
):
    audience.create_list("News")
    imp = services.prepare(DATA / "contacts-2100-semicolon.csv", lists=["News"])
    services.start(imp)
    services.execute(services.claim(imp.pk))
    page = make_page(
        **(DESKTOP if size == "desktop" else PHONE), user=owner, mobile=size == "phone"
    )
    page.goto(f"/imports/{imp.pk}/")
    duplicates = page.locator("#duplicates")
    expect(duplicates.get_by_role("heading")).to_have_text("Duplicates within the file (5)")
    first = imp.duplicate_rows.first()
    row = duplicates.locator("tbody tr").first
    expect(row).to_contain_text(first.raw)
    expect(row.locator("td").last).to_have_text(str(first.first_line))
    ARTIFACTS.mkdir(exist_ok=True)
    duplicates.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / f"imports-duplicates-{size}.png"), full_page=True)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download as CSV").click()
    lines = download.value.path().read_text(encoding="utf-8").splitlines()
    assert lines[0] == "email,first_name,last_name,city,plan,signup_date,line,reason"
    assert len(lines) == 1 + 22 + 5
