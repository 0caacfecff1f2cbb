"""Sheets as the TSV files of dataset raw: cells as the user sees them, escaped by formats.raw."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

from formats.raw import escape_cell, sheet_file_name
from puller.readers import Sheet
from puller.sources import SourceError

__all__ = ["format_cell", "raw_files", "sheet_tsv", "store_name"]

EXCEL_DIGITS = 15  # significant digits a spreadsheet keeps and shows


def _format_number(value: float) -> str:
    if not math.isfinite(value):
        return repr(value)
    # A spreadsheet keeps 15 significant digits; 0.1+0.2 shows as 0.3.
    value = float(f"{value:.{EXCEL_DIGITS}g}")
    if value.is_integer():
        return str(int(value))
    return repr(value)


def _to_second(value: dt.datetime) -> dt.datetime:
    # Spreadsheets store times as day fractions; round away the float noise.
    return (value + dt.timedelta(microseconds=500_000)).replace(microsecond=0)


def _format_datetime(value: dt.datetime) -> str:
    value = _to_second(value)
    if value.time() == dt.time(0):
        return value.date().isoformat()
    return value.isoformat(sep=" ")


def _format_duration(value: dt.timedelta) -> str:
    seconds = round(value.total_seconds())
    sign = "-" if seconds < 0 else ""
    hours, rest = divmod(abs(seconds), 3600)
    return f"{sign}{hours}:{rest // 60:02d}:{rest % 60:02d}"


def format_cell(value: Any) -> str:
    """A cell as the user sees it (unescaped): ISO dates, 3 not 3.0, TRUE/FALSE."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _format_number(value)
    if isinstance(value, dt.datetime):
        return _format_datetime(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return _to_second(dt.datetime.combine(dt.date(2000, 1, 1), value)).time().isoformat()
    if isinstance(value, dt.timedelta):
        return _format_duration(value)
    return str(value)


def sheet_tsv(rows: Sequence[Sequence[Any]]) -> str:
    """The raw TSV text of a sheet: escaped cells, no trailing empty cells or rows."""
    lines = []
    for row in rows:
        cells = [escape_cell(format_cell(value)) for value in row]
        while cells and not cells[-1]:
            cells.pop()
        lines.append("\t".join(cells))
    # Interior empty rows stay, so line N is still the user's row N.
    while lines and not lines[-1]:
        lines.pop()
    return "".join(line + "\n" for line in lines)


def store_name(sheet: str) -> str:
    """The store's file name for a sheet; SourceError when the name is too long."""
    name = sheet_file_name(sheet)
    if name is None:
        raise SourceError(f"sheet name {sheet[:40]!r}… is too long for a file name")
    return name


def raw_files(sheets: Sequence[Sheet]) -> dict[str, str]:
    """The files of dataset raw: file name -> TSV text; two sheets on one name is an error."""
    files: dict[str, str] = {}
    owner: dict[str, str] = {}
    for sheet in sheets:
        name = store_name(sheet.name)
        if name in files:
            raise SourceError(
                f"sheets {owner[name]!r} and {sheet.name!r} would both be stored as "
                f"raw/{name}; rename one of them"
            )
        files[name] = sheet_tsv(sheet.rows)
        owner[name] = sheet.name
    return files
