"""Formulas of an .ods workbook that carry no saved value.

calamine gives such a cell as empty, so it would vanish. This module streams
``content.xml`` (element by element, cleared as it goes) and finds the cells
with a ``table:formula`` but no ``office:value-type``; the reader then writes
their formula text (``=…``, without the ``of:`` prefix) into those cells.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from defusedxml.ElementTree import iterparse  # no entity bombs or external entities

__all__ = ["uncached_formulas"]

TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
_SHEET = f"{{{TABLE}}}table"
_ROW = f"{{{TABLE}}}table-row"
_CELLS = (f"{{{TABLE}}}table-cell", f"{{{TABLE}}}covered-table-cell")
_FORMULA = f"{{{TABLE}}}formula"
_TYPE = f"{{{OFFICE}}}value-type"
_NAME = f"{{{TABLE}}}name"
_ROWS_REPEATED = f"{{{TABLE}}}number-rows-repeated"
_COLUMNS_REPEATED = f"{{{TABLE}}}number-columns-repeated"


def _formula_text(formula: str) -> str:
    _, sep, rest = formula.partition(":=")
    return f"={rest}" if sep else (formula if formula.startswith("=") else f"={formula}")


def uncached_formulas(path: Path) -> dict[str, dict[tuple[int, int], str]]:
    """Sheet name -> {(row, column) from 0: formula text} of formulas without a saved value."""
    found: dict[str, dict[tuple[int, int], str]] = {}
    with zipfile.ZipFile(path) as archive, archive.open("content.xml") as content:
        if b"formula" not in _peek_formulas(archive):
            return found
        sheet, row, column = "", 0, 0
        for event, element in iterparse(content, events=("start", "end")):
            tag = element.tag
            if event == "start":
                if tag == _SHEET:
                    sheet, row = element.get(_NAME, ""), 0
                elif tag == _ROW:
                    column = 0
                continue
            if tag in _CELLS:
                formula = element.get(_FORMULA)
                if formula is not None and element.get(_TYPE) is None:
                    found.setdefault(sheet, {})[(row, column)] = _formula_text(formula)
                column += int(element.get(_COLUMNS_REPEATED, "1"))
                element.clear()
            elif tag == _ROW:
                row += int(element.get(_ROWS_REPEATED, "1"))
                element.clear()
    return found


def _peek_formulas(archive: zipfile.ZipFile) -> bytes:
    """``b"formula"`` when content.xml mentions table:formula anywhere (read in chunks)."""
    with archive.open("content.xml") as content:
        tail = b""
        while chunk := content.read(1 << 20):
            if b"table:formula=" in tail + chunk:
                return b"formula"
            tail = chunk[-32:]
    return b""
