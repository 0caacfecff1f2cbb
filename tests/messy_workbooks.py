"""Workbooks written the way teams write them: each with the problems and plan effect it must give.

``CASES`` is a list of ``Case``: a name, the sheets (DOMAIN.md's worked example with one mess
in it), the file format, the problems it must raise (severity and a piece of the message, and
the item they name when they belong to one) and a check of the conditioned result. ``write``
writes a case as .xlsx (openpyxl: a formula has no saved value, as a script leaves it), .ods
(odfpy: a formula with its saved value, as a spreadsheet app leaves it) or a folder of .csv.
"""

from __future__ import annotations

import copy
import csv
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from odf.opendocument import OpenDocumentSpreadsheet
from odf.table import Table, TableCell, TableRow
from odf.text import P
from openpyxl import Workbook

from tests.examples import WORKED

__all__ = ["Case", "CASES", "write", "Formula"]

ESTIMATE = WORKED["work"][0].index("Estimate")
TRIAGE = WORKED["work"][0].index("Triage")
TRACK = WORKED["work"][0].index("Track")


@dataclass(frozen=True)
class Formula:
    """A formula cell; ``value`` is its saved result (None: never computed)."""

    text: str
    value: Any = None


@dataclass
class Case:
    """One messy workbook and what conditioning it must give."""

    name: str
    sheets: dict[str, list[list]]
    problems: list[tuple[str, str, str | None]] = field(default_factory=list)  # sev, text, item
    check: Callable[[Any], Any] = lambda result: True
    kind: str = "xlsx"


def _worked(**changes: list[list]) -> dict[str, list[list]]:
    sheets = copy.deepcopy(WORKED)
    sheets.update(copy.deepcopy(changes))
    return sheets


def _cell(sheet: str, row: int, column: int, value: Any, **renamed: str) -> dict[str, list[list]]:
    sheets = _worked()
    sheets[sheet][row][column] = value
    for old, new in renamed.items():
        sheets[new] = sheets.pop(old)
    return sheets


def _item(result, item_id: str):
    return next(item for item in result.model.work if item.id == item_id)


def _estimate(item_id: str, expected: dict[str, float]) -> Callable:
    def check(result) -> bool:
        got = dict(_item(result, item_id).estimate)
        return got.keys() == expected.keys() and all(
            abs(got[k] - v) < 1e-9 for k, v in expected.items()
        )

    return check


def _written(item_id: str, skill: str, **fields: Any) -> Callable:
    def check(result) -> bool:
        entry = result.estimates[item_id]["skills"][skill]
        return all(entry[key] == value for key, value in fields.items())

    return check


def _both(*checks: Callable) -> Callable:
    return lambda result: all(check(result) for check in checks)


def _unsized(item_id: str) -> Callable:
    return lambda result: (
        _item(result, item_id).estimate == () and result.estimates[item_id]["unsized"]
    )


def _triage(item_id: str, level: float) -> Callable:
    return lambda result: _item(result, item_id).triage == level


def _fatal(result) -> bool:
    return result.model is None


def _estimates() -> list[Case]:
    written = [
        ("weeks-w", "Apps:2w, Native:3 weeks", {"Apps": 2, "Native": 3}),
        ("weeks-and-days", "Apps:1w, Native:2 days", {"Apps": 1, "Native": 0.4}),
        ("xl-size", "Apps:XL", {"Apps": 5}),
        ("sizes-with-counts", "Apps:3S, Native:2M", {"Apps": 3, "Native": 4}),
        ("wk-with-space", "Apps:2 wk", {"Apps": 2}),
        ("decimal-weeks", "Apps:1.5w, Native:2d", {"Apps": 1.5, "Native": 0.4}),
        ("a-month", "Apps:1 month", {"Apps": 4.33}),
        ("plain-numbers", "Apps:3, Native:2.5", {"Apps": 3, "Native": 2.5}),
        ("equals-and-semicolons", "Apps=2; Native=1", {"Apps": 2, "Native": 1}),
    ]
    cases = [
        Case(f"estimate-{name}", _cell("work", 1, ESTIMATE, text), [], _estimate("W10", parts))
        for name, text, parts in written
    ]
    cases += [
        Case(
            "estimate-range-in-weeks",
            _cell("work", 1, ESTIMATE, "Apps:2-3w"),
            [],
            _both(
                _estimate("W10", {"Apps": 2.5}),
                _written("W10", "Apps", low=2, high=3, kind="range"),
            ),
        ),
        Case(
            "estimate-range-of-sizes",
            _cell("work", 1, ESTIMATE, "Apps:M-L"),
            [],
            _both(
                _estimate("W10", {"Apps": 2.5}),
                _written("W10", "Apps", low=2, high=3, kind="range"),
            ),
        ),
        Case(
            "estimate-size-kind-kept",
            _cell("work", 1, ESTIMATE, "Apps:L"),
            [],
            _written("W10", "Apps", kind="size", weeks=3),
        ),
        Case(
            "estimate-tbd",
            _cell("work", 1, ESTIMATE, "TBD"),
            [("warning", "not sized yet", "W10")],
            _unsized("W10"),
        ),
        Case(
            "estimate-question-mark",
            _cell("work", 1, ESTIMATE, "?"),
            [("warning", "not sized yet", "W10")],
            _unsized("W10"),
        ),
        Case(
            "estimate-unreadable-part",
            _cell("work", 1, ESTIMATE, "Apps:lots, Native:2"),
            [("error", "'lots' is not an estimate", "W10")],
            _estimate("W10", {"Native": 2}),
        ),
        Case(
            "estimate-negative",
            _cell("work", 1, ESTIMATE, "Apps:-2, Native:2"),
            [("error", "Apps:-2", "W10")],
            _estimate("W10", {"Native": 2}),
        ),
        Case(
            "skill-columns-with-units",
            _worked(
                work=[
                    ["ID", "Name", "Track", "Apps", "Native", "Web"],
                    ["W10", "Login flow", "Track1", "2w", "3 days", ""],
                    ["W20", "Settings", "Track2", "", "", "M-L"],
                    ["W30", "Push", "Track1", "-", "TBD", ""],
                ]
            ),
            [("warning", "not sized yet", "W30")],
            _both(
                _estimate("W10", {"Apps": 2, "Native": 0.6}),
                _estimate("W20", {"Web": 2.5}),
                _unsized("W30"),
            ),
        ),
    ]
    return cases


def _formulas() -> list[Case]:
    return [
        Case(
            "formula-without-saved-value",
            _cell("work", 1, ESTIMATE, Formula('=CONCATENATE("Apps:",3)')),
            [("error", "cell D2 holds a formula with no saved value", "W10")],
            _unsized("W10"),
        ),
        Case(
            "formula-rank-without-value-is-not-zero",
            _cell("work", 2, 1, Formula("=B2+10")),
            [("error", "formula", "W20")],
            lambda result: _item(result, "W20").rank == 2,  # its position, never 0
        ),
        Case(
            "formula-with-saved-value",
            _cell("work", 1, TRIAGE, Formula("of:=1+1", 2)),
            [],
            _triage("W10", 2),
            kind="ods",
        ),
    ]


def _sheets_and_headers() -> list[Case]:
    title = [["Q4 plan — draft, do not share"], [], *WORKED["work"]]
    two_titles = [["Team"], ["as of Oct 1"], *WORKED["staff"]]
    merged = copy.deepcopy(WORKED["work"])
    merged[0] = [*merged[0], None]  # the Estimate header merged over two columns
    for row in merged[1:]:
        row.append("")
    return [
        Case(
            "title-row-above-the-header",
            _worked(work=title),
            [("warning", "row 3 is taken as the header", None)],
            lambda result: len(result.model.work) == 6,
        ),
        Case(
            "two-title-rows-in-staff",
            _worked(staff=two_titles),
            [("warning", "row 3 is taken as the header", None)],
            lambda result: len(result.model.staff) == 5,
        ),
        Case("merged-header-cells", _worked(work=merged), [], lambda r: len(r.model.work) == 6),
        Case(
            "sheet-named-q4-backlog",
            _cell("work", 0, 0, "ID", work="Q4 Backlog"),
            [],
            lambda r: len(r.model.work) == 6,
        ),
        Case(
            "sheet-named-team-roster",
            _cell("staff", 0, 0, "ID", staff="Team roster"),
            [],
            lambda r: len(r.model.staff) == 5,
        ),
        Case("sheet-named-items", _cell("work", 0, 0, "ID", work="Items"), [], lambda r: r.model),
        Case(
            "missing-staff-sheet-lists-the-sheets-found",
            _cell("staff", 0, 0, "ID", staff="Staf"),
            [("fatal", "the sheets found are", None), ("fatal", "did you mean 'Staf'", None)],
            _fatal,
        ),
        Case(
            "header-typo-track",
            _cell("work", 0, TRACK, "Trak"),
            [("fatal", "did you mean 'Trak'", None)],
            _fatal,
        ),
        Case(
            "header-typo-skill-column",
            _worked(work=[["Name", "Track", "Apps", "Desgin"], ["One", "Track1", "2", "3"]]),
            [("warning", "'Desgin' is not read (did you mean 'design'", None)],
            lambda r: dict(r.model.work[0].estimate) == {"Apps": 2},
        ),
        Case(
            "header-spaces-and-case",
            _cell("work", 0, 2, "  NAME "),
            [],
            lambda r: len(r.model.work) == 6,
        ),
    ]


def _empty() -> list[Case]:
    return [
        Case(
            "work-with-a-header-and-no-rows",
            _worked(work=[WORKED["work"][0]]),
            [("fatal", "no work items", None)],
            _fatal,
        ),
        Case(
            "staff-with-a-header-and-no-rows",
            _worked(staff=[WORKED["staff"][0]]),
            [("fatal", "no people", None)],
            _fatal,
        ),
        Case("work-sheet-empty", _worked(work=[[""]]), [("fatal", "empty", None)], _fatal),
        Case("params-empty", _worked(params=[[""]]), [("fatal", "", None)], _fatal),
        Case(
            "empty-work-as-csv",
            _worked(work=[WORKED["work"][0]]),
            [("fatal", "no work items", None)],
            _fatal,
            kind="csv",
        ),
    ]


def _triage_words() -> list[Case]:
    words = [("urgent", 1), ("P0", 1), ("High", 1.5), ("P2", 2), ("medium", 2),
             ("could", 2.5), ("nice to have", 3), ("won't", 3)]  # fmt: skip
    cases = [
        Case(f"triage-{word}", _cell("work", 1, TRIAGE, word), [], _triage("W10", level))
        for word, level in words
    ]
    cases.append(
        Case(
            "triage-unknown-word",
            _cell("work", 1, TRIAGE, "soonish"),
            [("error", "triage 'soonish'", "W10")],
            _triage("W10", 3),
        )
    )
    return cases


def _typos() -> list[Case]:
    return [
        Case(
            "skill-typo-in-estimate",
            _cell("work", 1, ESTIMATE, "Apps:2, Desgin:1"),
            [("warning", "did you mean 'design', that is UX", "W10")],
            lambda r: dict(_item(r, "W10").estimate)["Desgin"] == 1,
        ),
        Case(
            "skill-typo-fronted",
            _cell("work", 1, ESTIMATE, "Fronted:2"),
            [("warning", "did you mean 'frontend', that is Web", "W10")],
        ),
        Case(
            "staff-skill-typo",
            _cell("staff", 1, 4, "Andriod"),
            [("warning", "did you mean 'android'", None)],
        ),
        Case(
            "track-typo-in-work",
            _cell("work", 1, TRACK, "Trakc1"),
            [("warning", "did you mean 'Track1'", "W10")],
        ),
    ]


def _dates() -> list[Case]:
    vacation = WORKED["staff"][0].index("Vacation")
    return [
        Case(
            "vacation-without-a-year",
            _cell("staff", 2, vacation, "Oct 14"),
            [("error", "'Oct 14' is not a date", None)],
            lambda r: next(p for p in r.model.staff if p.id == "P2").vacation == (),
            kind="csv",
        ),
        Case(
            "us-dates-and-serials",
            _cell("holidays", 1, 0, "11/28/2013"),
            [],
            lambda r: len(r.model.holidays) == 2,
            kind="csv",
        ),
    ]


CASES = [*_estimates(), *_formulas(), *_sheets_and_headers(), *_empty(), *_triage_words(),
         *_typos(), *_dates()]  # fmt: skip


def write(case: Case, folder: Path) -> Path:
    """Write ``case`` in its format under ``folder``; the path to pull."""
    if case.kind == "csv":
        target = folder / case.name
        target.mkdir(parents=True, exist_ok=True)
        for name, rows in case.sheets.items():
            with open(target / f"{name}.csv", "w", encoding="utf-8", newline="") as handle:
                writer = csv.writer(handle, lineterminator="\n")
                writer.writerows([["" if v is None else str(v) for v in row] for row in rows])
        return target
    if case.kind == "ods":
        path = folder / f"{case.name}.ods"
        _write_ods(case.sheets, path)
        return path
    path = folder / f"{case.name}.xlsx"
    book = Workbook()
    book.remove(book.active)
    for name, rows in case.sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append([v.text if isinstance(v, Formula) else v for v in row])
        if name == "work" and rows and len(rows[0]) and rows[0][-1] is None:
            sheet.merge_cells(start_row=1, start_column=len(rows[0]) - 1, end_row=1,
                              end_column=len(rows[0]))  # fmt: skip
    book.save(path)
    return path


def _write_ods(sheets: dict[str, list[list]], path: Path) -> None:
    doc = OpenDocumentSpreadsheet()
    for name, rows in sheets.items():
        table = Table(name=name)
        for cells in rows:
            row = TableRow()
            for value in cells:
                row.addElement(_ods_cell(value))
            table.addElement(row)
        doc.spreadsheet.addElement(table)
    doc.save(str(path))


def _ods_cell(value: Any) -> TableCell:
    if isinstance(value, Formula):
        if value.value is None:
            return TableCell(formula=value.text)
        cell = TableCell(valuetype="float", value=str(value.value), formula=value.text)
        cell.addElement(P(text=str(value.value)))
        return cell
    if value is None or value == "":
        return TableCell()
    if isinstance(value, int | float) and not isinstance(value, bool):
        cell = TableCell(valuetype="float", value=str(value))
    else:
        cell = TableCell(valuetype="string")
    cell.addElement(P(text=str(value)))
    return cell
