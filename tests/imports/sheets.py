"""Write .xlsx and .ods files for tests, streamed, of any size."""

import zipfile
from collections.abc import Iterable
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from openpyxl import Workbook


def write_xlsx(path: Path, rows: Iterable[list], title: str = "Contacts") -> Path:
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.3">'
    "<office:body><office:spreadsheet>"
)
_MANIFEST = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" '
    'manifest:version="1.3"><manifest:file-entry manifest:full-path="/" '
    'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
    '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
    "</manifest:manifest>"
)


def _cell(value) -> str:
    if value is None or value == "":
        return "<table:table-cell/>"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (
            f'<table:table-cell office:value-type="float" office:value="{value}">'
            f"<text:p>{value}</text:p></table:table-cell>"
        )
    return f'<table:table-cell office:value-type="string"><text:p>{escape(str(value))}</text:p></table:table-cell>'  # noqa: E501


def write_ods(
    path: Path, rows: Iterable[list], title: str = "Contacts", trailing_empty: bool = True
) -> Path:
    """As LibreOffice writes it: mimetype first and stored, empty cells and rows repeated."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(
            zipfile.ZipInfo("mimetype"),
            "application/vnd.oasis.opendocument.spreadsheet",
            compress_type=zipfile.ZIP_STORED,
        )
        z.writestr("META-INF/manifest.xml", _MANIFEST)
        with z.open("content.xml", "w") as out:
            out.write(_HEAD.encode())
            out.write(f"<table:table table:name={quoteattr(title)}>".encode())
            for row in rows:
                cells = "".join(_cell(v) for v in row)
                if trailing_empty:
                    cells += '<table:table-cell table:number-columns-repeated="16370"/>'
                out.write(f"<table:table-row>{cells}</table:table-row>".encode())
            if trailing_empty:
                out.write(
                    b'<table:table-row table:number-rows-repeated="1048000">'
                    b'<table:table-cell table:number-columns-repeated="16384"/></table:table-row>'
                )
            out.write(
                b"</table:table></office:spreadsheet></office:body></office:document-content>"
            )
    return path
