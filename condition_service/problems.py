"""Problem records: one row or cell of the workbook that could not be used as written.

A problem says where (sheet, spreadsheet row, column header), what the cell
held, what is wrong and what the conditioner did about it. Severities:

- ``warning``: the data was used, with a fix the message names;
- ``error``: a cell or row was dropped, the rest of the sheet was used;
- ``fatal``: the workbook cannot be conditioned at all; no new streams.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict, dataclass

__all__ = ["SEVERITIES", "Problem", "Problems", "count", "to_jsonl"]

SEVERITIES = ("fatal", "error", "warning")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the workbook, and what was done about it."""

    severity: str
    sheet: str
    row: int | None
    column: str | None
    value: str | None
    message: str
    item: str | None = None  # the work item of the row, when the row is one

    def as_dict(self) -> dict[str, object]:
        """The problem as the JSON object written to problems.jsonl (``item`` when known)."""
        data = asdict(self)
        if data["item"] is None:
            del data["item"]
        return data


class Problems:
    """Collects the problems of one sheet (``sheet`` is the name as the workbook spells it)."""

    def __init__(self, sheet: str, found: list[Problem]) -> None:
        self.sheet = sheet
        self.found = found

    def add(
        self,
        severity: str,
        message: str,
        row: int | None = None,
        column: str | None = None,
        value: str | None = None,
    ) -> None:
        """Record one problem."""
        self.found.append(Problem(severity, self.sheet, row, column, value, message))

    def warning(self, message: str, row=None, column=None, value=None) -> None:
        """Record a problem whose data was used after a fix."""
        self.add("warning", message, row, column, value)

    def error(self, message: str, row=None, column=None, value=None) -> None:
        """Record a problem whose cell or row was dropped."""
        self.add("error", message, row, column, value)

    def fatal(self, message: str, row=None, column=None, value=None) -> None:
        """Record a problem that stops the workbook from being conditioned."""
        self.add("fatal", message, row, column, value)

    def tag_items(self, items: dict[int, str]) -> None:
        """Name the item of each of this sheet's problems whose row is an item's row."""
        for index, problem in enumerate(self.found):
            if problem.sheet == self.sheet and problem.row in items and problem.item is None:
                self.found[index] = dataclasses.replace(problem, item=items[problem.row])


def count(problems: list[Problem]) -> dict[str, int]:
    """How many problems of each severity (every severity present, maybe 0)."""
    totals = dict.fromkeys(SEVERITIES, 0)
    for problem in problems:
        totals[problem.severity] += 1
    return totals


def to_jsonl(problems: list[Problem]) -> str:
    """One JSON object a line, keys sorted; empty text for no problems."""
    return "".join(
        json.dumps(p.as_dict(), sort_keys=True, ensure_ascii=False) + "\n" for p in problems
    )
