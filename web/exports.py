"""Tables out of the browser: CSV and Excel (.xlsx) writers, and what keeps them inert.

A table is a list of column titles and rows of cells; a cell is text, a number,
a ``datetime.date``, or None (empty). The writers know nothing of plans: the
work table, the staffing sheet and the data version (``web.tables``) go
through them, and so can any other table (a plan compare).

- ``csv_bytes(columns, rows)``: UTF-8 with a byte order mark (so that Excel reads
  the accents of a name), comma separated, CRLF line ends, dates as ISO text.
- ``xlsx_bytes(sheets)``: one worksheet per ``Sheet``, the title row bold and
  frozen, dates as real dates (``yyyy-mm-dd``), numbers as numbers.

Spreadsheet text is untrusted: a name like ``=HYPERLINK(...)`` must never
become a formula in the planner's spreadsheet (formula or CSV injection). A
text cell whose first character is ``=``, ``+``, ``-``, ``@``, TAB or CR is
written as text: in .xlsx its cell is typed as a string (and marked with
Excel's quote prefix), so the text stays exactly as in the sheet; in CSV,
which has no types, it gets a single quote in front (``'=SUM(A1)``), the
usual guard, which spreadsheet programs show as text. Numbers (a negative
shortage) are numbers, not text, and are written as they are.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

__all__ = [
    "Sheet",
    "FORMULA_START",
    "csv_bytes",
    "xlsx_bytes",
    "risky",
    "content_disposition",
    "CSV_TYPE",
    "XLSX_TYPE",
]

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DATE_FORMAT = "yyyy-mm-dd"
MAX_WIDTH = 50  # characters: a long name does not make a column a screen wide
SHEET_TITLE = re.compile(r"[\[\]:*?/\\]")


@dataclass
class Sheet:
    """One worksheet: its title (31 characters at most), column titles and rows."""

    title: str
    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]


def risky(value: Any) -> bool:
    """True for text that a spreadsheet program would read as a formula."""
    return isinstance(value, str) and value.startswith(FORMULA_START)


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        if not math.isfinite(value):
            return ""
        return str(int(value)) if value.is_integer() else repr(value)
    text = str(value)
    return "'" + text if risky(text) else text


def csv_bytes(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes:
    """The table as CSV (see the module docstring)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([_csv_cell(c) for c in columns])
    for row in rows:
        writer.writerow([_csv_cell(c) for c in row])
    return out.getvalue().encode("utf-8-sig")


def _xlsx_cell(sheet, value: Any, bold: bool = False) -> WriteOnlyCell:
    if isinstance(value, bool):
        value = "yes" if value else "no"
    if isinstance(value, float) and not math.isfinite(value):
        value = None
    if isinstance(value, dt.datetime):
        value = value.replace(tzinfo=None)
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)  # XML has no place for them
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str):
        cell.data_type = "s"  # never "f": text stays text, whatever it starts with
        if risky(value):
            cell.quotePrefix = True  # and Excel keeps it text when someone edits the cell
    elif isinstance(value, dt.date):
        cell.number_format = DATE_FORMAT
    if bold:
        cell.font = Font(bold=True)
    return cell


def _width(value: Any) -> int:
    if isinstance(value, dt.date):
        return 10
    return min(len(_csv_cell(value)), MAX_WIDTH)


def sheet_title(text: str, taken: set[str]) -> str:
    """A worksheet title Excel takes: no ``[]:*?/\\``, 31 characters, unique."""
    base = SHEET_TITLE.sub("_", text).strip("'")[:31] or "Sheet"
    title, n = base, 1
    while title.casefold() in taken:
        n += 1
        title = f"{base[: 31 - len(str(n)) - 1]} {n}"
    taken.add(title.casefold())
    return title


def xlsx_bytes(sheets: Sequence[Sheet]) -> bytes:
    """The sheets as one .xlsx workbook (see the module docstring)."""
    book = Workbook(write_only=True)
    taken: set[str] = set()
    for table in sheets:
        sheet = book.create_sheet(sheet_title(table.title, taken))
        widths = [_width(c) for c in table.columns]
        for row in table.rows:
            for i, value in enumerate(row[: len(widths)]):
                widths[i] = max(widths[i], _width(value))
        for i, width in enumerate(widths, start=1):
            sheet.column_dimensions[get_column_letter(i)].width = max(width, 4) + 2
        sheet.freeze_panes = "A2"
        sheet.append([_xlsx_cell(sheet, c, bold=True) for c in table.columns])
        for row in table.rows:
            sheet.append([_xlsx_cell(sheet, c) for c in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII file name and the exact one (RFC 6266, RFC 5987)."""
    plain = re.sub(r"[^A-Za-z0-9._-]+", "_", filename).strip("_") or "qplan"
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(filename, safe='')}"
