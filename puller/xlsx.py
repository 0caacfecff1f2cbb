"""Reading an .xlsx/.xlsm workbook row by row, in bounded memory, formulas kept.

openpyxl's read-only mode parses one row at a time. The workbook is opened
twice side by side: once for the values a spreadsheet program cached, once for
the formulas. A formula cell with a cached value gives the value; one without
(a file written by a script and never opened in a spreadsheet program) gives
its formula text starting with ``=``, so the conditioner can name the cell
instead of the cell vanishing.

Before reading, the zip's declared sizes are checked against the budget (the
shared strings are held in memory by any reader); while reading, every cell is
charged to the budget.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import re
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from puller.budget import Budget, megabytes
from puller.sources import SourceError

__all__ = ["check_declared_sizes", "cut_short", "pick_sheet", "read_xlsx"]

SHARED_STRINGS = "xl/sharedStrings.xml"
MIDNIGHT = dt.time(0)


def cut_short(path: Path) -> SourceError:
    """The error of a workbook whose bytes end early."""
    return SourceError(
        f"{path}: cannot read the workbook: the file is cut short (it was saved or copied "
        "only partly); open it in its spreadsheet program and save it again, then pull again"
    )


def check_declared_sizes(path: Path, archive: zipfile.ZipFile, budget: Budget) -> None:
    """Refuse a workbook whose zip declares more text than the budget takes."""
    parts = [i for i in archive.infolist() if i.filename.startswith("xl/worksheets/")]
    shared = [i for i in archive.infolist() if i.filename == SHARED_STRINGS]
    declared_shared = sum(i.file_size for i in shared)
    if declared_shared > budget.limit:
        raise SourceError(
            budget.message(str(path), f"its shared text alone is {megabytes(declared_shared)}")
        )
    # Every cell of a sheet costs at least its few bytes of XML; rows too long to be
    # a sheet anyone reads are refused before a byte of them is parsed.
    declared = sum(i.file_size for i in parts)
    if declared > 64 * budget.limit:
        raise SourceError(
            budget.message(str(path), f"its sheets declare {megabytes(declared)} of cells")
        )


def pick_sheet(path: Path, names: list[str], only: str) -> list[str]:
    """The sheet ``only`` of ``names`` (exact, else ignoring case); the error lists the sheets."""
    picked = [n for n in names if n == only] or [
        n for n in names if n.casefold() == only.casefold()
    ]
    if not picked:
        found = ", ".join(repr(n) for n in names) or "none"
        raise SourceError(f"{path}: no sheet named {only!r}; the sheets found are {found}")
    return picked[:1]


_FORMULA_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?f[\s>/]")


def _has_formulas(archive: zipfile.ZipFile) -> bool:
    """True when a worksheet part holds a formula element (read in chunks)."""
    for info in archive.infolist():
        if not info.filename.startswith("xl/worksheets/"):
            continue
        with archive.open(info) as part:
            tail = b""
            while chunk := part.read(1 << 20):
                if _FORMULA_TAG.search(tail + chunk):
                    return True
                tail = chunk[-64:]
    return False


def _open(stack: contextlib.ExitStack, path: Path, data_only: bool) -> Any:
    # A file object: openpyxl would refuse a file *named* .xls or .csv that is an .xlsx.
    handle = stack.enter_context(open(path, "rb"))  # noqa: SIM115 - the stack closes it
    book = load_workbook(handle, read_only=True, data_only=data_only, keep_links=False)
    stack.callback(book.close)
    return book


def _check_dimension(path: Path, sheet: Any, name: str, budget: Budget) -> None:
    """Refuse a sheet whose <dimension> declares more rows than the budget has bytes."""
    rows = sheet.max_row  # from the sheet's <dimension ref>, before any cell is read
    if isinstance(rows, int) and rows > budget.limit - budget.used:
        raise SourceError(budget.message(str(path), f"sheet {name!r} declares {rows} rows"))


def _cells(book: Any, name: str) -> Iterator[tuple[Any, ...]]:
    sheet = book[name]
    # A stale <dimension> would cut rows off; read what the sheet holds.
    sheet.reset_dimensions()
    return sheet.iter_rows(values_only=True)


def _plain(value: Any) -> Any:
    if value is None:
        return ""  # an empty cell, as calamine gives it for .xls and .ods
    if type(value) is int:
        return float(value)  # a spreadsheet number is a double, as calamine gives it
    # A date cell comes back as midnight of that day; it is the date, as other readers give it.
    if isinstance(value, dt.datetime) and value.time() == MIDNIGHT and value.tzinfo is None:
        return value.date()
    return value


def _merge_row(values: tuple[Any, ...], formulas: tuple[Any, ...]) -> list[Any]:
    row = [_plain(v) for v in values]
    for index, formula in enumerate(formulas):
        if isinstance(formula, str) and formula.startswith("="):
            if index >= len(row):
                row.extend([""] * (index + 1 - len(row)))
            if row[index] == "":
                row[index] = formula
    return row


def _text_size(row: list[Any]) -> int:
    return sum(len(v) if isinstance(v, str) else 8 for v in row) + len(row) + 1


def read_xlsx(
    path: Path, budget: Budget, only: str | None = None
) -> list[tuple[str, list[list[Any]]]]:
    """Every worksheet (or only the sheet ``only``) as (name, rows of cell values)."""
    with contextlib.ExitStack() as stack:
        try:
            with zipfile.ZipFile(path) as archive:
                check_declared_sizes(path, archive, budget)
                any_formula = _has_formulas(archive)
            values = _open(stack, path, data_only=True)
            # The second reading, for formula text, only when a sheet has formulas at all.
            formulas = _open(stack, path, data_only=False) if any_formula else None
        except (zipfile.BadZipFile, EOFError, zlib.error):
            raise cut_short(path) from None
        except (InvalidFileException, KeyError, OSError) as exc:
            raise SourceError(f"{path}: cannot read the workbook ({exc})") from None
        return _read_all(path, budget, only, values, formulas)


def _read_all(
    path: Path, budget: Budget, only: str | None, values: Any, formulas: Any | None
) -> list[tuple[str, list[list[Any]]]]:
    try:
        names = values.sheetnames
        if only is not None:
            names = pick_sheet(path, names, only)
        sheets = []
        for name in names:
            if type(values[name]).__name__ != "ReadOnlyWorksheet":
                continue  # a chartsheet has no cells
            _check_dimension(path, values[name], name, budget)
            rows = []
            written = _cells(formulas, name) if formulas is not None else iter(())
            pairs = itertools.zip_longest(_cells(values, name), written, fillvalue=())
            for cached, written in pairs:
                row = _merge_row(cached, written)
                if budget.over(_text_size(row)):
                    raise SourceError(
                        budget.message(
                            str(path),
                            f"sheet {name!r} holds over {megabytes(budget.limit)} "
                            f"by row {len(rows) + 1}",
                        )
                    )
                rows.append(row)
            # Rows as wide as the widest, as a spreadsheet's range is.
            width = max(map(len, rows), default=0)
            padding = sum(width - len(row) for row in rows)
            if budget.over(padding):  # one far cell would otherwise widen every row
                raise SourceError(
                    budget.message(str(path), f"sheet {name!r} spans {width} columns")
                )
            for row in rows:
                row.extend([""] * (width - len(row)))
            sheets.append((name, rows))
        return sheets
    except (zipfile.BadZipFile, EOFError, zlib.error):
        raise cut_short(path) from None
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        raise SourceError(f"{path}: cannot read the workbook ({exc})") from None
