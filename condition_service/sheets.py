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
    "work": ("work", "workitems", "items", "backlog", "tasks", "features", "epics", "roadmap"),
    "staff": ("staff", "people", "team", "staffing", "roster", "engineers", "resources"),
    "params": ("params", "parameters", "settings", "quarter", "param", "parameter", "config"),
    "holidays": ("holidays", "holiday", "daysoff", "publicholidays", "calendar"),
}
HEADER_SEARCH = 10  # non-empty rows among which the header is looked for
_WORDS = re.compile(r"[^a-z0-9]+")
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
    above: list[Row] = field(default_factory=list)  # rows above a header found further down

    def heading(self, index: int) -> str:
        """The header text of a column."""
        return self.header.get(index) if self.header else ""


def read_table(name: str, text: str, known: frozenset[str] = frozenset()) -> Table:
    """Parse one raw TSV file.

    The header is the row, among the first ten with text, whose cells match the most of
    ``known`` header names (normalised); the first row with text when none matches two or
    more (a sheet of dates, a Parameter/Value sheet written without its header).
    """
    table = Table(name)
    rows = []
    for number, line in enumerate(text.split("\n"), start=1):
        row = Row(number, [decode_cell(cell) for cell in line.rstrip("\r").split("\t")])
        if not row.blank():
            rows.append(row)
    if not rows:
        return table
    scores = [_score(row, known) for row in rows[:HEADER_SEARCH]]
    best = max(range(len(scores)), key=lambda n: (scores[n], -n))
    if scores[best] < 2 or scores[best] <= scores[0]:
        best = 0
    table.above, table.header, table.rows = rows[:best], rows[best], rows[best + 1 :]
    return table


def _score(row: Row, known: frozenset[str]) -> int:
    """How many of a row's cells are known header names."""
    return sum(1 for cell in row.cells if cell.strip() and normalise(cell) in known)


def sheet_role(name: str, aliases: Mapping[str, str] | None = None) -> tuple[str, int] | None:
    """Which of the four sheets a sheet name means, and how plainly (0 best), or None.

    A name is a role's name or alias (``Backlog``), a ``[condition_service] sheet_aliases``
    name, or a name with one of those as a word (``Q4 Backlog``, ``Team roster``).
    """
    key = normalise(name)
    for alias, role in (aliases or {}).items():
        if normalise(alias) == key and role in SHEET_NAMES:
            return role, 0
    for role, names in SHEET_NAMES.items():
        if key in names:
            return role, names.index(key)
    words = [word for word in _WORDS.split(name.lower()) if word]
    for role, names in SHEET_NAMES.items():
        for word in words:
            if word in names:
                return role, len(names) + names.index(word)
    return None


def find_sheets(
    files: Mapping[str, str], aliases: Mapping[str, str] | None = None
) -> tuple[dict[str, str], list[tuple[str, str, str]]]:
    """Map each role to the sheet that plays it; also list ``(role, kept, ignored)`` clashes.

    ``files`` maps sheet names to their TSV text. When two sheets mean the
    same role, the one named most plainly wins (``work`` before ``items``
    before ``Q4 Backlog``), then the first in name order.
    """
    candidates: dict[str, list[tuple[int, str]]] = {}
    for name in files:
        found = sheet_role(name, aliases)
        if found is not None:
            role, preference = found
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
