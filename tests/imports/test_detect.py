"""Reading the files people export: encodings, delimiters, headers, and files refused whole."""

import codecs
import zipfile

import pytest

from postroom.errors import InvalidInput
from postroom.imports.detect import UnreadableFile, detect, parse_delimiter, parse_mapping
from tests.data import DATA
from tests.imports.conftest import write

ROWS = (
    "email;Vorname;Nachname;Stadt\njane@example.com;Jane;Doe;Berlin\nbob@example.org;Bob;Ray;Köln\n"
)


def test_it_detects_the_shared_semicolon_file():
    layout = detect(DATA / "contacts-2100-semicolon.csv")
    assert (layout.encoding, layout.delimiter, layout.has_header) == ("utf-8", ";", True)
    assert layout.mapping == [
        "email",
        "first_name",
        "last_name",
        "attr:city",
        "attr:plan",
        "attr:signup_date",
    ]


def test_it_detects_the_excel_cp1252_file():
    layout = detect(DATA / "contacts-500-excel-cp1252.csv")
    assert (layout.encoding, layout.delimiter) == ("cp1252", ",")


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [
        ("utf-8", "utf-8"),
        ("utf-8-sig", "utf-8-sig"),
        ("utf-16", "utf-16"),
        ("utf-16-le", "utf-16-le"),
    ],
)
def test_it_detects_unicode_encodings_with_and_without_bom(tmp_path, encoding, expected):
    layout = detect(write(tmp_path, ROWS, encoding=encoding))
    assert layout.encoding == expected
    assert layout.delimiter == ";"
    assert layout.mapping == ["email", "first_name", "last_name", "attr:stadt"]


def test_it_detects_a_latin_file_whose_first_rows_are_ascii(tmp_path):
    text = "email,name\n" + "".join(f"u{i}@example.com,User\n" for i in range(20000))
    text += "zoe@example.com,Zoë Müller\n"
    layout = detect(write(tmp_path, text, encoding="cp1252"))
    assert layout.encoding in ("cp1252", "latin_1", "iso8859-15", "iso8859_15")


@pytest.mark.parametrize(
    ("delimiter", "name"), [(",", "comma"), (";", "semicolon"), ("\t", "tab"), ("|", "pipe")]
)
def test_it_sniffs_each_delimiter(tmp_path, delimiter, name):
    text = ROWS.replace(";", delimiter)
    assert detect(write(tmp_path, text)).delimiter == delimiter
    assert parse_delimiter(name) == delimiter


def test_it_does_not_take_commas_inside_values_for_the_delimiter(tmp_path):
    text = 'E-Mail;Name\njane@example.com;"Doe, Jane"\nbob@example.org;"Ray, Bob"\n'
    assert detect(write(tmp_path, text)).delimiter == ";"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("E-mail Address,First Name,Last Name", ["email", "first_name", "last_name"]),
        ("Email Address,Full name,Plan", ["email", "name", "attr:plan"]),
        ("courriel,Prénom,Nom", ["email", "first_name", "last_name"]),
        ("correo,nombre,apellido", ["email", "first_name", "last_name"]),
        ("Mail,Vorname,Nachname", ["email", "first_name", "last_name"]),
        ("E-Mail,Name,Signup Date", ["email", "name", "attr:signup_date"]),
    ],
)
def test_it_maps_header_names_in_several_languages(tmp_path, header, expected):
    text = f"{header}\njane@example.com,Jane,Doe\n"
    assert detect(write(tmp_path, text)).mapping == expected


def test_it_finds_the_address_column_of_a_file_without_a_header(tmp_path):
    layout = detect(write(tmp_path, "Jane,jane@example.com\nBob,bob@example.org\n"))
    assert layout.has_header is False
    assert layout.mapping == ["attr:column_1", "email"]


def test_every_detected_setting_can_be_overridden(tmp_path):
    path = write(tmp_path, "Adresse;Wer\njane@example.com;Jane\n")
    layout = detect(
        path,
        encoding="latin-1",
        delimiter=",",
        mapping=parse_mapping(["1=email"]),
    )
    assert (layout.encoding, layout.delimiter) == ("iso8859-1", ",")
    assert layout.detected["delimiter"] == ";"
    layout = detect(path, mapping=parse_mapping(["Adresse=email", "Wer=name"]))
    assert layout.mapping == ["email", "name"]


def test_a_mapping_to_an_unknown_column_is_refused(tmp_path):
    with pytest.raises(InvalidInput, match="no column 'Nope'"):
        detect(write(tmp_path, ROWS), mapping=parse_mapping(["Nope=email"]))
    with pytest.raises(InvalidInput, match="COLUMN=FIELD"):
        parse_mapping(["email"])


def test_an_empty_file_is_refused(tmp_path):
    with pytest.raises(UnreadableFile, match="the file is empty"):
        detect(write(tmp_path, ""))


def test_a_file_of_blank_lines_is_refused(tmp_path):
    with pytest.raises(UnreadableFile, match="no rows"):
        detect(write(tmp_path, "\n\n  \n"))


def test_a_binary_file_is_refused(tmp_path):
    path = tmp_path / "photo.csv"
    path.write_bytes(bytes(range(256)) * 40)
    with pytest.raises(UnreadableFile, match="binary"):
        detect(path)


def test_a_spreadsheet_renamed_csv_is_refused(tmp_path):
    path = tmp_path / "contacts.csv"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
    with pytest.raises(UnreadableFile, match=r"spreadsheet \(.xlsx/.ods\).*save it as CSV"):
        detect(path)


def test_a_file_without_an_email_column_is_refused(tmp_path):
    with pytest.raises(UnreadableFile, match=r"no email column.*'name', 'city'"):
        detect(write(tmp_path, "name,city\nJane,Berlin\nBob,Paris\n"))


def test_a_file_that_is_not_in_the_forced_encoding_is_refused(tmp_path):
    path = write(tmp_path, "email,name\njane@example.com,Zoë\n", encoding="cp1252")
    with pytest.raises(UnreadableFile, match="not valid utf-8 text"):
        detect(path, encoding="utf-8")


def test_unknown_encodings_and_delimiters_are_refused(tmp_path):
    with pytest.raises(InvalidInput, match="unknown encoding"):
        detect(write(tmp_path, ROWS), encoding="klingon")
    with pytest.raises(InvalidInput, match="unknown delimiter"):
        parse_delimiter(":")


def test_a_utf16_file_from_excel_unicode_text_is_read(tmp_path):
    text = "Email Address\tFirst Name\r\njane@example.com\tJane\r\n"
    path = tmp_path / "unicode.txt"
    path.write_bytes(codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    layout = detect(path)
    assert (layout.encoding, layout.delimiter, layout.mapping) == (
        "utf-16",
        "\t",
        ["email", "first_name"],
    )
