"""The ``params`` and ``holidays`` sheets: the quarter's dates, scheduled skills, days off."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from condition_service.cells import clean_text, parse_date, parse_days
from condition_service.fields import skill_field
from condition_service.problems import Problems
from condition_service.sheets import Row, Table, match_columns, normalise
from condition_service.vocabulary import Vocabulary

__all__ = [
    "HOLIDAY_COLUMNS",
    "PARAM_COLUMNS",
    "PARAM_NAMES",
    "Quarter",
    "read_holidays",
    "read_params",
]

PARAM_COLUMNS = {
    "parameter": ("parameter", "parameters", "param", "name", "key", "setting", "field"),
    "value": ("value", "values", "val"),
}
PARAM_NAMES = {
    "start": ("start", "startdate", "quarterstart", "begin", "begins", "from", "firstday"),
    "end": ("end", "enddate", "quarterend", "finish", "ends", "to", "lastday"),
    "scheduled": ("scheduledskills", "scheduled", "scheduledskill", "skills"),
}
PARAM_TITLES = {"start": "Start", "end": "End", "scheduled": "Scheduled skills"}
HOLIDAY_COLUMNS = {
    "date": ("date", "dates", "day", "days", "when", "holidaydate"),
    "name": ("name", "holiday", "description", "occasion", "what"),
}
_SKILL_LIST = re.compile(r"[,;:\n]+")


@dataclass(frozen=True)
class Quarter:
    """What the params sheet says; ``scheduled`` is None when it names no skills."""

    start: dt.date
    end: dt.date
    scheduled: tuple[str, ...] | None


@dataclass(frozen=True)
class _Value:
    """One parameter's cell: its text, row and column header."""

    text: str
    row: Row
    header: str | None


def param_name(text: str) -> str | None:
    """Which parameter a name means (``start``, ``end``, ``scheduled``), or None."""
    key = normalise(text)
    for name, aliases in PARAM_NAMES.items():
        if key in aliases:
            return name
    return None


def _key_values(
    problems: Problems,
    rows: list[Row],
    key: int,
    value: int,
    headers: tuple[str | None, str | None],
) -> dict[str, _Value]:
    """Parameter/Value rows: one parameter a row; ``headers`` are the two columns' titles."""
    key_header, header = headers
    values: dict[str, _Value] = {}
    for row in rows:
        written = row.get(key)
        name = param_name(written)
        if name is None and not written and not row.get(value):
            continue  # text only in some other column: a note, not a parameter
        if name is None:
            known = ", ".join(PARAM_TITLES.values())
            what = f"unknown parameter {written!r}" if written else "a value with no parameter"
            problems.warning(f"{what} (known: {known}); ignored", row.number, key_header, written)
        elif name in values:
            first = values[name].row.number
            problems.warning(
                f"{PARAM_TITLES[name]} is given again; the one in row {first} is used",
                row.number,
                header,
                row.get(value),
            )
        else:
            values[name] = _Value(row.get(value), row, header)
    return values


def _table_values(problems: Problems, table: Table, named: dict[str, int]) -> dict[str, _Value]:
    """A one-row table with a column per parameter."""
    if not table.rows:
        return {}
    for row in table.rows[1:]:
        problems.warning(
            "only the first row under a Start/End header is read; this row is ignored", row.number
        )
    first = table.rows[0]
    return {name: _Value(first.get(i), first, table.heading(i)) for name, i in named.items()}


def _values(problems: Problems, table: Table) -> dict[str, _Value] | None:
    """The parameters' cells, whichever layout the sheet uses; None when it has neither."""
    header = table.header
    columns, _, _ = match_columns(header, PARAM_COLUMNS)
    named: dict[str, int] = {}
    for index, cell in enumerate(header.cells):
        name = param_name(cell)
        if name is not None and name not in named:
            named[name] = index
    if "parameter" in columns:
        key = columns["parameter"]
        value = columns.get("value", key + 1)
        headers = (table.heading(key), table.heading(value) or "Value")
        return _key_values(problems, table.rows, key, value, headers)
    if len(named) == 1 and named.get(param_name(header.get(0)) or "") == 0:
        # No header at all: the first row is already "Start | 2026-10-05".
        return _key_values(problems, [header, *table.rows], 0, 1, (None, None))
    if named:
        return _table_values(problems, table, named)
    problems.fatal(
        "the sheet needs 'Parameter' and 'Value' columns (or 'Start' and 'End' columns)",
        header.number,
        "Parameter",
    )
    return None


def _date(problems: Problems, values: dict[str, _Value], name: str) -> dt.date | None:
    """The start or end date; missing or unreadable is fatal."""
    title = PARAM_TITLES[name]
    found = values.get(name)
    if found is None or not found.text:
        problems.fatal(
            f"no {title} date; the quarter cannot be planned without it",
            found.row.number if found else None,
            found.header if found else title,
        )
        return None
    try:
        return parse_date(found.text)
    except ValueError as exc:
        problems.fatal(f"{title}: {exc}", found.row.number, found.header, found.text)
        return None


def _scheduled(
    problems: Problems, vocabulary: Vocabulary, found: _Value | None
) -> tuple[str, ...] | None:
    """The scheduled skills in config spelling, or None when the cell is blank."""
    if found is None or not found.text:
        return None
    skills: list[str] = []
    for part in _SKILL_LIST.split(found.text):
        if clean_text(part)[0]:
            skill = skill_field(problems, vocabulary, found.row, found.header, part, found.text)
            if skill not in skills:
                skills.append(skill)
    return tuple(skills) or None


def read_params(problems: Problems, table: Table, vocabulary: Vocabulary) -> Quarter | None:
    """The quarter, or None when it cannot be read (a fatal problem)."""
    if table.header is None:
        problems.fatal("the sheet is empty; it needs Parameter and Value columns")
        return None
    values = _values(problems, table)
    if values is None:
        return None
    start, end = _date(problems, values, "start"), _date(problems, values, "end")
    scheduled = _scheduled(problems, vocabulary, values.get("scheduled"))
    if start is None or end is None:
        return None
    if end < start:
        found = values["end"]
        problems.fatal(
            f"the quarter ends ({end}) before it starts ({start})",
            found.row.number,
            found.header,
            found.text,
        )
        return None
    return Quarter(start, end, scheduled)


def read_holidays(problems: Problems, table: Table) -> list[dt.date]:
    """The holidays of the sheet, sorted, each once; a cell may hold several dates or a range."""
    if table.header is None:
        return []
    columns, _, _ = match_columns(table.header, HOLIDAY_COLUMNS)
    rows = table.rows
    if "date" not in columns:
        try:
            parse_date(table.header.get(0))
        except ValueError:
            problems.error(
                "no 'Date' column; no holidays are read from this sheet",
                table.header.number,
                "Date",
            )
            return []
        columns, rows = {"date": 0}, [table.header, *rows]  # a list of dates without a header
    header = table.heading(columns["date"]) if rows is table.rows else None
    days: set[dt.date] = set()
    for row in rows:
        text = row.get(columns["date"])
        if not text:
            problems.error("the row has no date; it is ignored", row.number, header)
            continue
        found, errors = parse_days(text)
        for message in errors:
            problems.error(f"{message}; that holiday is dropped", row.number, header, text)
        days.update(found)
    return sorted(days)
