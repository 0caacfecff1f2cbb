"""The raw sheets of two raw commits, read as tables and compared row by row, cell by cell.

``read_sheets(files)`` turns the raw dataset's TSV files (``formats.raw``)
into ``Sheet`` tables: the header row (among the first ten rows with text,
the one naming the most known headers, as the conditioner picks it), the key
column (an ID-like column, else the first), and the rows by key.
``diff_sheets(old, new)`` lists the rows that were added, removed or changed,
each with its changed cells (column header, before, after, cell reference).
Cells that differ only in surrounding white space are the same.

This is what ``web.blame`` names as the cause of a move: the sheet, the row's
key (its ID) and the column, as a planner would find them in the workbook.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from formats.raw import sheet_name, unescape_cell

__all__ = ["Cell", "Row", "Sheet", "RowChange", "read_sheets", "diff_sheets", "column_letter"]

HEADER_ROWS = 10  # rows with text searched for the header
KEY_HEADERS = ("id", "key", "itemid", "personid", "parameter", "param", "setting", "date")
NAME_HEADERS = ("name", "item", "title", "summary", "feature", "person")
KNOWN_HEADERS = frozenset(
    KEY_HEADERS
    + NAME_HEADERS
    + (
        "rank", "priority", "order", "track", "stream", "area", "triage", "tri", "importance",
        "estimate", "estimates", "effort", "size", "team", "skill", "vacation", "vacations",
        "daysoff", "value", "holiday", "start", "end", "apps", "native", "web", "qa", "ux",
    )
)  # fmt: skip
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


def _norm(text: str) -> str:
    return _NOT_ALNUM.sub("", text.lower())


def column_letter(index: int) -> str:
    """The spreadsheet letter of a 0-based column (0 -> A, 26 -> AA)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


@dataclass(frozen=True)
class Cell:
    """One changed cell: its column's header, the values before and after, ``F12``."""

    column: str
    before: str
    after: str
    cell: str

    def as_json(self) -> dict[str, str]:
        return {
            "column": self.column,
            "before": self.before,
            "after": self.after,
            "cell": self.cell,
        }


@dataclass
class Row:
    """One data row: its key, its spreadsheet row number and its cells by column header."""

    key: str
    number: int
    cells: dict[str, str]
    letters: dict[str, str]  # column header -> column letter


@dataclass
class Sheet:
    """One raw sheet as a table keyed by its key column."""

    name: str
    header: list[str]
    key_column: str
    rows: dict[str, Row] = field(default_factory=dict)
    by_name: dict[str, str] = field(default_factory=dict)  # a row's name cell -> its key

    def find(self, key: str, name: str | None = None) -> Row | None:
        """The row whose key is ``key`` (else whose name cell is ``name``)."""
        row = self.rows.get(key)
        if row is None and name:
            found = self.by_name.get(name.strip())
            row = self.rows.get(found) if found else None
        return row


@dataclass
class RowChange:
    """A row added, removed or changed between two commits (``cells``: what changed)."""

    sheet: str
    key: str
    number: int
    kind: str  # "added", "removed", "changed"
    cells: list[Cell]

    @property
    def columns(self) -> str:
        """The changed columns, joined (the key column for an added or removed row)."""
        return ", ".join(cell.column for cell in self.cells)


def _lines(text: str) -> list[list[str]]:
    return [[unescape_cell(c) for c in line.split("\t")] for line in text.split("\n")]


def _header_index(table: list[list[str]]) -> int:
    """The row (0-based) that names the most known headers among the first ten with text."""
    best, best_score, seen = 0, -1, 0
    for index, cells in enumerate(table):
        if not any(c.strip() for c in cells):
            continue
        score = sum(1 for c in cells if _norm(c) in KNOWN_HEADERS)
        if score > best_score:
            best, best_score = index, score
        seen += 1
        if seen >= HEADER_ROWS:
            break
    return best


def _headers(cells: list[str]) -> list[str]:
    """Column headers as written, a letter for a blank one, unique."""
    out: list[str] = []
    for index, cell in enumerate(cells):
        name = cell.strip() or column_letter(index)
        out.append(name if name not in out else f"{name} ({column_letter(index)})")
    return out


def _pick(header: list[str], wanted: tuple[str, ...]) -> int | None:
    normed = [_norm(h) for h in header]
    for name in wanted:
        if name in normed:
            return normed.index(name)
    return None


def read_sheet(name: str, text: str) -> Sheet:
    """One raw TSV file as a ``Sheet``."""
    table = _lines(text)
    at = _header_index(table)
    header = _headers(table[at] if table else [])
    key_at = _pick(header, KEY_HEADERS)
    key_at = 0 if key_at is None else key_at
    name_at = _pick(header, NAME_HEADERS)
    sheet = Sheet(name, header, header[key_at] if header else "A")
    for index in range(at + 1, len(table)):
        cells = table[index]
        if not any(c.strip() for c in cells):
            continue
        width = max(len(cells), len(header))
        columns = header + [column_letter(i) for i in range(len(header), width)]
        values = {columns[i]: (cells[i] if i < len(cells) else "") for i in range(width)}
        letters = {columns[i]: column_letter(i) for i in range(width)}
        row_name = cells[name_at].strip() if name_at is not None and name_at < len(cells) else ""
        key = cells[key_at].strip() if key_at < len(cells) else ""
        key = key or row_name or f"row {index + 1}"
        if key in sheet.rows:
            key = f"{key} (row {index + 1})"
        sheet.rows[key] = Row(key, index + 1, values, letters)
        if row_name:
            sheet.by_name.setdefault(row_name, key)
    return sheet


def read_sheets(files: dict[str, bytes]) -> dict[str, Sheet]:
    """Every raw file as a ``Sheet``, by sheet name."""
    sheets = {}
    for file_name, data in sorted(files.items()):
        name = sheet_name(file_name)
        sheets[name] = read_sheet(name, data.decode("utf-8", errors="replace"))
    return sheets


def _cells(old: Row | None, new: Row | None, key_column: str) -> list[Cell]:
    if old is None or new is None:
        row = new or old
        value = row.cells.get(key_column, row.key)
        before, after = ("", value) if old is None else (value, "")
        return [Cell(key_column, before, after, f"{row.letters.get(key_column, 'A')}{row.number}")]
    changed = []
    for column in list(new.cells) + [c for c in old.cells if c not in new.cells]:
        before, after = old.cells.get(column, ""), new.cells.get(column, "")
        if before.strip() != after.strip():
            letter = new.letters.get(column) or old.letters.get(column, "?")
            changed.append(Cell(column, before.strip(), after.strip(), f"{letter}{new.number}"))
    return changed


def diff_sheets(old: dict[str, Sheet], new: dict[str, Sheet]) -> dict[tuple[str, str], RowChange]:
    """Every row added, removed or changed, by ``(sheet, key)``, in sheet and row order."""
    found: dict[tuple[str, str], RowChange] = {}
    for name in list(new) + [n for n in old if n not in new]:
        before = old.get(name) or Sheet(name, [], "A")
        after = new.get(name) or Sheet(name, [], "A")
        key_column = after.key_column if name in new else before.key_column
        for key in list(after.rows) + [k for k in before.rows if k not in after.rows]:
            a, b = before.rows.get(key), after.rows.get(key)
            cells = _cells(a, b, key_column)
            if not cells:
                continue
            kind = "added" if a is None else "removed" if b is None else "changed"
            found[(name, key)] = RowChange(name, key, (b or a).number, kind, cells)
    return found
