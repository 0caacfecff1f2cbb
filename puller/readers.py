"""Reading sources into sheets: workbooks by their content, CSV/TSV text, folders.

A workbook's kind is decided by its first bytes, not its name: a zip holding
``xl/workbook.xml`` is read as .xlsx, one holding ``content.xml`` as .ods, an
OLE2 file as .xls, whatever the file is called. Lock files a spreadsheet
program leaves beside an open file are skipped in folders and refused by name.
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import ParseError

from python_calamine import CalamineError, CalamineWorkbook, SheetTypeEnum

from puller.budget import Budget, megabytes
from puller.download import Download, download, url_sheet
from puller.ods import uncached_formulas
from puller.sources import (
    TEXT_DELIMITERS,
    WORKBOOK_SUFFIXES,
    Source,
    SourceError,
    is_lock_file,
    lock_file_error,
)
from puller.xlsx import cut_short, pick_sheet, read_xlsx

__all__ = [
    "Sheet",
    "decode_text",
    "folder_entries",
    "parse_text_table",
    "read_folder",
    "read_sheets",
    "read_text_file",
    "read_workbook",
    "sniff",
]

ZIP_MAGIC = b"PK\x03\x04"
EMPTY_ZIP_MAGIC = b"PK\x05\x06"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
HIDDEN_PREFIX = "."
UNBOUNDED = 1 << 62


@dataclass
class Sheet:
    """One sheet: its name and its rows of cell values (str, float, date, bool, None…)."""

    name: str
    rows: list[list[Any]]


def sniff(path: Path) -> str:
    """What the file is by its content: "xlsx", "ods", "xls", "cut" (a broken zip) or "other"."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise SourceError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if head.startswith(OLE_MAGIC):
        return "xls"
    if not head.startswith((ZIP_MAGIC, EMPTY_ZIP_MAGIC)):
        return "other"
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, EOFError):
        return "cut"
    if "xl/workbook.xml" in names or any(n.startswith("xl/workbook") for n in names):
        return "xlsx"
    if "content.xml" in names:
        return "ods"
    return "zip"


def _calamine_sheets(path: Path, budget: Budget, only: str | None) -> list[Sheet]:
    """The worksheets of an .xls/.ods file (calamine reads the whole sheet at once)."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                declared = sum(i.file_size for i in archive.infolist())
            if declared > 16 * budget.limit:
                raise SourceError(
                    budget.message(str(path), f"it declares {megabytes(declared)} of content")
                )
        formulas = uncached_formulas(path) if sniff(path) == "ods" else {}
        # From the bytes, not the name: calamine would go by the extension.
        with open(path, "rb") as handle, CalamineWorkbook.from_filelike(handle) as book:
            metas = [m for m in book.sheets_metadata if m.typ == SheetTypeEnum.WorkSheet]
            names = [m.name for m in metas]
            if only is not None:
                names = pick_sheet(path, names, only)
            sheets = []
            for name in names:
                # skip_empty_area=False keeps leading empty rows and columns,
                # so row numbers stay the ones the user sees.
                rows = book.get_sheet_by_name(name).to_python(skip_empty_area=False)
                _put_formulas(rows, formulas.get(name, {}))
                for row in rows:
                    if budget.over(sum(len(v) if isinstance(v, str) else 8 for v in row)):
                        raise SourceError(
                            budget.message(
                                str(path), f"sheet {name!r} holds over {megabytes(budget.limit)}"
                            )
                        )
                sheets.append(Sheet(name, rows))
            return sheets
    except (zipfile.BadZipFile, KeyError, ParseError) as exc:
        raise SourceError(f"{path}: cannot read the workbook ({exc})") from None
    except CalamineError as exc:
        text = str(exc)
        if "EOCD" in text or "Eof" in text or "eof" in text or "truncated" in text.lower():
            raise cut_short(path) from None
        raise SourceError(f"{path}: cannot read the workbook ({text})") from None
    except OSError as exc:
        raise SourceError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _put_formulas(rows: list[list[Any]], formulas: dict[tuple[int, int], str]) -> None:
    """Write the text of formulas without a saved value into their (empty) cells."""
    for (row, column), text in formulas.items():
        while len(rows) <= row:
            rows.append([])
        cells = rows[row]
        if len(cells) <= column:
            cells.extend([""] * (column + 1 - len(cells)))
        if cells[column] in ("", None):
            cells[column] = text


def read_workbook(path: Path, budget: Budget | None = None, only: str | None = None) -> list[Sheet]:
    """Every worksheet of a workbook (or only the sheet ``only``), read by what the file is."""
    budget = budget or Budget(UNBOUNDED)
    if is_lock_file(path):
        raise lock_file_error(path)
    kind = sniff(path)
    if kind == "xlsx":
        return [Sheet(name, rows) for name, rows in read_xlsx(path, budget, only)]
    if kind in ("xls", "ods"):
        return _calamine_sheets(path, budget, only)
    if kind == "cut":
        raise cut_short(path)
    if kind == "zip":
        raise SourceError(
            f"{path}: cannot read the workbook: it is a zip archive but holds no "
            "spreadsheet (no xl/workbook.xml, no content.xml)"
        )
    raise SourceError(
        f"{path}: cannot read the workbook: its content is not a spreadsheet "
        "(neither a zip-based .xlsx/.ods nor an OLE .xls file); if it is a CSV export, "
        "name it .csv"
    )


def decode_text(data: bytes) -> str:
    """CSV/TSV bytes as text: UTF-8 (BOM or not), UTF-16 with a BOM, else cp1252."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Spreadsheet programs on Windows still save "CSV" as cp1252; its five
        # unassigned bytes become U+FFFD rather than an error.
        return data.decode("cp1252", errors="replace")


def parse_text_table(data: bytes, delimiter: str, where: str = "text") -> list[list[str]]:
    """The rows of CSV or TSV bytes (quoted cells as spreadsheet programs write them)."""
    reader = csv.reader(io.StringIO(decode_text(data), newline=""), delimiter=delimiter)
    try:
        return [list(row) for row in reader]
    except csv.Error as exc:
        raise SourceError(f"{where}: line {reader.line_num}: {exc}") from None


def _read_bytes(path: Path, budget: Budget) -> bytes:
    try:
        size = path.stat().st_size
        if size > budget.limit:
            raise SourceError(budget.message(str(path), f"it is {megabytes(size)}"))
        data = path.read_bytes()
    except OSError as exc:
        raise SourceError(f"{path}: cannot read: {exc.strerror or exc}") from None
    budget.over(len(data))
    return data


def read_text_file(path: Path, sheet: str | None = None, budget: Budget | None = None) -> Sheet:
    """One .csv/.tsv file as one sheet, named after the file unless ``sheet`` is given.

    A workbook saved under a .csv name is read as the workbook it is.
    """
    budget = budget or Budget(UNBOUNDED)
    if is_lock_file(path):
        raise lock_file_error(path)
    if sniff(path) in ("xlsx", "ods", "xls"):
        books = read_workbook(path, budget)
        if len(books) != 1 and sheet is None:
            raise SourceError(f"{path}: is a workbook of {len(books)} sheets; name it .xlsx")
        return Sheet(sheet or path.stem, books[0].rows)
    delimiter = TEXT_DELIMITERS[path.suffix.lower()]
    return Sheet(
        sheet or path.stem, parse_text_table(_read_bytes(path, budget), delimiter, str(path))
    )


def folder_entries(folder: Path) -> list[Path]:
    """The files of ``folder`` that matter: tables and workbooks, not lock or hidden files."""
    try:
        entries = sorted(folder.iterdir())
    except OSError as exc:
        raise SourceError(f"{folder}: cannot list: {exc.strerror or exc}") from None
    suffixes = WORKBOOK_SUFFIXES + tuple(TEXT_DELIMITERS)
    return [
        p
        for p in entries
        if p.suffix.lower() in suffixes
        and not is_lock_file(p)
        and not p.name.startswith(HIDDEN_PREFIX)
        and p.is_file()
    ]


def read_folder(folder: Path, budget: Budget | None = None) -> list[Sheet]:
    """Every .csv/.tsv file of ``folder`` as one sheet named after the file."""
    entries = folder_entries(folder)
    books = [p.name for p in entries if p.suffix.lower() in WORKBOOK_SUFFIXES]
    if books:
        raise SourceError(
            f"{folder}: a folder is read as one sheet per .csv/.tsv file, but it holds "
            f"the workbook(s) {', '.join(books)}; pull a workbook by its own path"
        )
    if not entries:
        raise SourceError(f"{folder}: no .csv or .tsv files in this folder, so no sheets")
    return [read_text_file(p, budget=budget) for p in entries]


def read_sheets(
    source: Source,
    timeout: float = 30.0,
    got: Download | None = None,
    budget: Budget | None = None,
) -> list[Sheet]:
    """The sheets of ``source`` (``got``: a download already made of a URL)."""
    budget = budget or Budget(UNBOUNDED)
    if source.kind == "workbook":
        sheets = read_workbook(source.path, budget, source.sheet)
    elif source.kind == "text":
        sheets = [read_text_file(source.path, source.sheet, budget)]
    elif source.kind == "folder":
        sheets = read_folder(source.path, budget)
    else:
        got = got or download(source.location, timeout)
        if budget.over(len(got.data)):
            raise SourceError(budget.message(source.name, f"it is {megabytes(len(got.data))}"))
        name, delimiter = url_sheet(source, got)
        sheets = [Sheet(name, parse_text_table(got.data, delimiter, source.name))]
    if not sheets:
        raise SourceError(f"{source.name}: the workbook has no sheets")
    return sheets
