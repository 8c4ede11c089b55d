"""Spreadsheets (.xlsx, .ods) and ZIP archives go through the same pipeline as CSV files.

Same detection, preview, mapping, validation and per-row reasons (a row's line is
its row number in the sheet); memory stays flat; zip bombs and huge sheets are
refused with a clear message and nothing is stored.
"""

import csv
import json
import os
import subprocess
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from postroom.audience.eligibility import mailable_subscribers
from postroom.audience.models import MailingList, Subscriber, Subscription, Suppression
from postroom.imports import services, sources
from postroom.imports.detect import UnreadableFile
from postroom.imports.models import Import
from tests.data import DATA
from tests.imports.conftest import run
from tests.imports.sheets import write_ods, write_xlsx

ZIP = DATA / "exports" / "mailchimp-audience-export.zip"
ROWS = [
    ["E-Mail", "Vorname", "Status", "Tags", "Anmeldung"],
    ["jane@example.com", "Jane", "subscribed", "vip, fair", datetime(2024, 5, 6, 7, 8)],
    ["bob@example.com", "Bob", "unsubscribed", None, None],
    ["not-an-address", "Nobody", "subscribed", None, None],
    [],
    ["zoe@example.com", "Zoë\nMüller", "cleaned", None, 42],
]


@pytest.fixture
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return tmp_path / "media" / "imports"


def test_a_mailchimp_zip_is_one_import_of_its_three_files(news, media):
    imp = run(ZIP)
    assert (imp.rows, imp.created, imp.rejected) == (35, 35, 0)
    assert imp.states == {"subscribed": 10, "unsubscribed": 20, "bounced": 5}
    assert services.recognised(imp, imp.states) == [
        "Mailchimp audience export (3 files): 10 people will be imported as subscribed; "
        "20 people will be imported as unsubscribed; "
        "5 people will be imported as bounced (suppressed)"
    ]
    assert mailable_subscribers([news]).count() == 10
    assert Suppression.objects.filter(reason="bounced").count() == 5
    assert not list(media.iterdir())  # the unpacked files went with the finished import


def test_a_row_of_an_archive_is_reported_with_its_file(news, media, tmp_path):
    path = tmp_path / "two.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("a.csv", "email\nann@example.com\n")
        z.writestr("b.csv", "email\nnot-an-address\n")
        z.writestr("__MACOSX/._a.csv", "junk")
    imp = run(path)
    assert (imp.created, imp.rejected) == (1, 1)
    row = imp.rejected_rows.get()
    assert (row.line, row.reason[:28]) == (2, "b.csv: not a valid email add")


@pytest.mark.parametrize("write", [write_xlsx, write_ods], ids=["xlsx", "ods"])
def test_a_sheet_is_read_like_a_csv_file_with_row_numbers_as_lines(news, media, tmp_path, write):
    path = write(tmp_path / f"people.{write.__name__[-4:]}", ROWS)
    imp = services.prepare(path, lists=["News"])
    layout = imp.layout
    assert layout["member"] == "Contacts"
    assert layout["mapping"] == ["email", "first_name", "status", "tags", "attr:anmeldung"]
    samples = services.sample_rows(imp)
    assert [getattr(s, "email", None) for s in samples] == [
        "jane@example.com",
        "bob@example.com",
        None,
        "zoe@example.com",
    ]
    services.start(imp)
    imp = services.execute(services.claim(imp.pk))
    assert (imp.rows, imp.created, imp.rejected) == (4, 3, 1)
    assert imp.rejected_rows.get().line == 4  # the sheet's row 4
    jane = Subscriber.objects.get(email="jane@example.com")
    assert sorted(jane.tags.values_list("name", flat=True)) == ["fair", "vip"]
    assert jane.attributes["anmeldung"].startswith("2024-05-06")
    assert Subscriber.objects.get(email="zoe@example.com").name == "Zoë Müller"
    assert Subscriber.objects.get(email="zoe@example.com").attributes["anmeldung"] == "42"
    bob = Subscription.objects.get(subscriber__email="bob@example.com")
    assert bob.status == "unsubscribed"
    assert Suppression.objects.get().reason == "bounced"
    assert [s.email for s in mailable_subscribers([news])] == ["jane@example.com"]


def _rows(count: int):
    yield ["email", "name", "status", "city"]
    for n in range(count):
        yield [
            f"person{n}@example.com",
            f"Person {n % 97}",
            "subscribed",
            ["Berlin", "Lagos"][n % 2],
        ]


def _peak_rss(env: dict, path: Path) -> tuple[int, dict]:
    """Peak RSS (bytes) and JSON summary of `postroom import PATH --dry-run` in its own process."""
    command = [sys.executable, "-m", "postroom.cli", "import", str(path), "--list", "News"]
    process = subprocess.Popen([*command, "--dry-run", "--json"], env=env, stdout=subprocess.PIPE)
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return usage.ru_maxrss * 1024, json.loads(output)


@pytest.mark.slow
@pytest.mark.parametrize("write", [write_xlsx, write_ods], ids=["xlsx", "ods"])
def test_a_sheet_of_100000_rows_is_read_in_flat_memory(subprocess_env, tmp_path, write):
    MailingList.objects.create(name="News")
    sheet = write(tmp_path / f"big.{write.__name__[-4:]}", _rows(100_000))
    text = tmp_path / "big.csv"
    with text.open("w", newline="") as out:
        csv.writer(out).writerows(_rows(100_000))
    sheet_peak, summary = _peak_rss(subprocess_env, sheet)
    csv_peak, _ = _peak_rss(subprocess_env, text)
    assert (summary["rows"], summary["created"]) == (100_000, 100_000)
    # The whole sheet held as rows of text (the least any loader would keep) is
    # ~33 MB; reading the sheet costs at most a few MB more than reading the same
    # rows as CSV (for an .xlsx, its table of distinct texts: one per address).
    held = sum(sys.getsizeof(row) + sum(map(sys.getsizeof, row)) for row in _rows(100_000))
    bound = 12 * 1024 * 1024
    assert held > 2 * bound
    assert sheet_peak - csv_peak < bound, (sheet_peak, csv_peak)


def _bomb(path: Path, size: int) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z, z.open("big.csv", "w") as out:
        out.write(b"email\n")
        zeros = b"0" * (1 << 20)
        for _ in range(size >> 20):
            out.write(zeros)
    return path


def test_a_zip_bomb_is_refused_and_nothing_is_kept(news, media, tmp_path):
    path = _bomb(tmp_path / "bomb.zip", 64 << 20)
    with pytest.raises(UnreadableFile, match=r"'big\.csv' would unpack to 67,108,870 bytes"):
        services.prepare(path, lists=["News"])
    assert (Import.objects.count(), Subscriber.objects.count()) == (0, 0)
    assert not list(media.iterdir())


def test_an_archive_bigger_than_the_limit_is_refused(news, media, tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "MAX_UNPACKED", 1000)
    path = tmp_path / "big.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("a.csv", "email\n" + "ann@example.com\n" * 100)
    with pytest.raises(UnreadableFile, match="would unpack to 1,606 bytes; at most 1,000"):
        services.prepare(path, lists=["News"])


def test_a_sheet_with_too_many_rows_is_refused(news, media, tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "MAX_ROWS", 10)
    path = write_ods(tmp_path / "long.ods", _rows(20))
    with pytest.raises(UnreadableFile, match="the sheet 'Contacts' has more than 10 rows"):
        services.prepare(path, lists=["News"])
    assert Import.objects.count() == 0 and not list(media.iterdir())


def test_empty_cells_and_rows_repeated_by_the_million_cost_nothing(news, media, tmp_path):
    # write_ods ends every row with 16,370 empty cells and the sheet with 1,048,000
    # empty rows, as LibreOffice does.
    path = write_ods(tmp_path / "short.ods", [["email"], ["ann@example.com"]])
    assert run(path).created == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"PK\x03\x04" + b"\x00" * 50, "starts like a ZIP archive or a spreadsheet but cannot"),
        ("zip-no-csv", "the ZIP archive holds no CSV file (it has 'notes.pdf')"),
        ("empty-sheet", "the first sheet 'Contacts' is empty"),
    ],
)
def test_a_broken_spreadsheet_or_archive_gets_a_specific_message(
    news, media, tmp_path, content, message
):
    path = tmp_path / "file"
    if content == "zip-no-csv":
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("notes.pdf", "%PDF")
    elif content == "empty-sheet":
        write_xlsx(path, [])
    else:
        path.write_bytes(content)
    with pytest.raises(UnreadableFile) as caught:
        services.prepare(path, lists=["News"])
    assert message in str(caught.value)
    assert Import.objects.count() == 0


def test_times_in_a_sheet_keep_their_meaning(news, media, tmp_path):
    rows = [["email", "status", "UNSUB_TIME"], ["ann@example.com", "", datetime(2024, 1, 2, 3, 4)]]
    run(write_xlsx(tmp_path / "left.xlsx", rows))
    row = Subscription.objects.get()
    assert (row.status, row.unsubscribed_at) == (
        "unsubscribed",
        datetime(2024, 1, 2, 3, 4, tzinfo=UTC),
    )
