"""The report of an import: rows not imported come back whole, fixable and importable again."""

import csv
import io

from postroom.audience.models import Subscriber
from postroom.imports import services
from tests.data import DATA
from tests.imports.conftest import run, write


def rejects_csv(imp) -> list[list[str]]:
    out = io.StringIO()
    services.write_rejects(imp, out)
    return list(csv.reader(io.StringIO(out.getvalue())))


def test_the_rejects_csv_carries_each_row_as_it_was_then_its_line_and_reason(news, tmp_path):
    text = (
        "email;first_name;city\n"
        "ok@example.com;Ada;Oslo\n"
        "nobody at example.com;Bob;Porto\n"
        "OK@example.com;Ada again;Oslo\n"
        "=cmd@example;Eve;Kyoto\n"
    )
    imp = run(write(tmp_path, text))
    rows = rejects_csv(imp)
    assert rows[0] == ["email", "first_name", "city", "line", "reason"]
    assert rows[1][:4] == ["nobody at example.com", "Bob", "Porto", "3"]
    assert rows[1][4] == "not a valid email address: An email address must have an @-sign."
    assert rows[2] == [
        "OK@example.com",
        "Ada again",
        "Oslo",
        "4",
        "duplicate: the same address as line 2, imported once",
    ]
    assert rows[3][:4] == ["'=cmd@example", "Eve", "Kyoto", "5"]  # no formula in a sheet
    assert len(rows) == 4


def test_a_fixed_rejects_csv_imports_again_without_its_line_and_reason_columns(news, tmp_path):
    imp = run(write(tmp_path, "email,first_name\nada at example.com,Ada\nbob@example.com,Bob\n"))
    assert (imp.created, imp.rejected) == (1, 1)
    rows = rejects_csv(imp)
    rows[1][0] = "ada@example.com"  # the fix a person makes in a spreadsheet
    fixed = tmp_path / "fixed.csv"
    with fixed.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    again = run(fixed)
    assert (again.rows, again.created, again.rejected) == (1, 1, 0)
    assert Subscriber.objects.get(email="ada@example.com").attributes == {"first_name": "Ada"}


def test_in_file_duplicates_are_listed_with_the_row_they_repeat(news):
    imp = run(DATA / "contacts-2100-semicolon.csv")
    listed = list(imp.duplicate_rows.values_list("line", "first_line", "raw", "cells"))
    assert len(listed) == imp.duplicates == 5
    with (DATA / "contacts-2100-semicolon.csv").open(encoding="utf-8", newline="") as f:
        file_rows = list(csv.reader(f, delimiter=";"))
    for line, first_line, raw, cells in listed:
        assert first_line < line
        assert cells == file_rows[line - 1] and raw == cells[0]
        assert raw.strip().lower() == file_rows[first_line - 1][0].strip().lower()


def test_one_row_jammed_into_its_email_cell_gets_its_own_reason_not_delimiter_advice(news):
    # A comma-separated Excel file whose line 451 holds `a@b.com;First;Last` in the
    # email cell: reading the file with ';' would break the 491 good rows.
    imp = run(DATA / "contacts-500-excel-cp1252.csv")
    row = imp.rejected_rows.get(line=451)
    assert row.raw == "grace.virtanen.449@example.com;Grace;Virtanen"
    assert row.reason == (
        "the email field holds 'grace.virtanen.449@example.com' followed by ';Grace;Virtanen': "
        "several values were typed into one cell; keep only the address in it"
    )
    assert not imp.rejected_rows.filter(reason__contains="separated by").exists()
    assert imp.created == 491


def test_a_file_mostly_split_wrong_still_gets_the_delimiter_advice(news, tmp_path):
    text = "email\n" + "".join(f"p{i}@example.com;P{i};Q\n" for i in range(6)) + "ok@example.com\n"
    imp = run(write(tmp_path, text), delimiter=",")
    assert imp.rejected == 6
    reasons = set(imp.rejected_rows.values_list("reason", flat=True))
    assert reasons == {
        "this field contains ';' — the file seems to be separated by ';', not ',': "
        "import it with that delimiter"
    }
