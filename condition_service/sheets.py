"""Raw TSV files as sheets: rows with their spreadsheet numbers, matched sheet and column names.

The raw format (README "The store"): one row a line, cells separated by TAB,
``\\\\``, ``\\t``, ``\\n`` and ``\\r`` escape a backslash, TAB, newline and
carriage return inside a cell. Line 1 is spreadsheet row 1; the first row
with any text is the header.

Sheet and column names are compared by ``normalise``: lower case, no
spaces, no punctuation, so ``Work Items``, ``work_items`` and ``WORK-ITEMS``
are the same name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from formats.raw import unescape_cell

__all__ = [
    "ROLES",
    "SHEET_NAMES",
    "Row",
    "Table",
    "decode_cell",
    "find_sheets",
    "match_columns",
    "normalise",
    "read_table",
]

ROLES = ("work", "staff", "params", "holidays")  # also the order problems are listed in
SHEET_NAMES = {
    "work": ("work", "workitems", "items", "backlog"),
    "staff": ("staff", "people", "team", "staffing"),
    "params": ("params", "parameters", "settings", "quarter", "param", "parameter"),
    "holidays": ("holidays", "holiday", "daysoff"),
}
_NOT_WORD = re.compile(r"[\W_]+")
_VISIBLE = re.compile(r"[^\s\x00-\x1f\x7f-\x9f]")


def normalise(name: str) -> str:
    """A name reduced to lower-case letters and digits (``#`` stays ``#``)."""
    return _NOT_WORD.sub("", name.lower()) or name.strip()


def decode_cell(text: str) -> str:
    """One raw TSV cell with its escapes undone (an unknown escape is kept as written).

    A cell with nothing visible in it (only spaces or control characters) is empty.
    """
    text = unescape_cell(text)
    return text if _VISIBLE.search(text) else ""


@dataclass
class Row:
    """One spreadsheet row: its number (1-based) and its cells, escapes undone."""

    number: int
    cells: list[str]

    def get(self, index: int | None) -> str:
        """The stripped text of one cell ('' for a missing column or cell)."""
        if index is None or index >= len(self.cells):
            return ""
        return self.cells[index].strip()

    def blank(self) -> bool:
        """True when no cell holds any text."""
        return not any(cell.strip() for cell in self.cells)


@dataclass
class Table:
    """One sheet: its name as written, its header row and its non-empty data rows."""

    name: str
    header: Row | None = None
    rows: list[Row] = field(default_factory=list)

    def heading(self, index: int) -> str:
        """The header text of a column."""
        return self.header.get(index) if self.header else ""


def read_table(name: str, text: str) -> Table:
    """Parse one raw TSV file; the first row with text is the header."""
    table = Table(name)
    for number, line in enumerate(text.split("\n"), start=1):
        row = Row(number, [decode_cell(cell) for cell in line.rstrip("\r").split("\t")])
        if row.blank():
            continue
        if table.header is None:
            table.header = row
        else:
            table.rows.append(row)
    return table


def sheet_role(name: str) -> str | None:
    """Which of the four sheets a sheet name means, or None."""
    key = normalise(name)
    for role, names in SHEET_NAMES.items():
        if key in names:
            return role
    return None


def find_sheets(files: Mapping[str, str]) -> tuple[dict[str, str], list[tuple[str, str, str]]]:
    """Map each role to the sheet that plays it; also list ``(role, kept, ignored)`` clashes.

    ``files`` maps sheet names to their TSV text. When two sheets mean the
    same role, the one named most plainly wins (``work`` before ``items``),
    then the first in name order.
    """
    candidates: dict[str, list[tuple[int, str]]] = {}
    for name in files:
        role = sheet_role(name)
        if role is not None:
            preference = SHEET_NAMES[role].index(normalise(name))
            candidates.setdefault(role, []).append((preference, name))
    found: dict[str, str] = {}
    clashes = []
    for role, names in candidates.items():
        ordered = [name for _, name in sorted(names)]
        found[role] = ordered[0]
        clashes += [(role, ordered[0], other) for other in ordered[1:]]
    return found, clashes


def match_columns(
    header: Row, aliases: Mapping[str, tuple[str, ...]]
) -> tuple[dict[str, int], list[int], list[tuple[str, int]]]:
    """Match header cells to column roles.

    Returns the index of each role found, the indexes of the headers that
    match no role, and ``(role, index)`` for a second column of a role
    already found (it is ignored).
    """
    lookup = {alias: role for role, names in aliases.items() for alias in names}
    columns: dict[str, int] = {}
    unmatched: list[int] = []
    repeats: list[tuple[str, int]] = []
    for index, cell in enumerate(header.cells):
        if not cell.strip():
            continue
        role = lookup.get(normalise(cell))
        if role is None:
            unmatched.append(index)
        elif role in columns:
            repeats.append((role, index))
        else:
            columns[role] = index
    return columns, unmatched, repeats
