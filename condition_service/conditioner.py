"""Raw sheets in, qplan streams and a list of problems out: the whole conditioning step.

``condition(files, settings)`` takes the files of a ``raw`` snapshot
(``<sheet>.tsv``, README "The store") and reads the four sheets of README
"The workbook": ``work``, ``staff``, ``params`` and the optional
``holidays``. Every cell or row that cannot be used as written becomes a
``Problem``; the rest of the sheet is still read. A fatal problem (a
missing sheet or column, an unreadable quarter) means there is no model and
no streams text: the last good conditioned data should stay in place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from condition_service.problems import Problem, Problems, count
from condition_service.quarter import (
    HOLIDAY_COLUMNS,
    PARAM_COLUMNS,
    PARAM_NAMES,
    Quarter,
    read_holidays,
    read_params,
)
from condition_service.sheets import (
    ROLES,
    SHEET_NAMES,
    Table,
    find_sheets,
    normalise,
    read_table,
)
from condition_service.staff import STAFF_COLUMNS, read_staff
from condition_service.vocabulary import Settings, Vocabulary, did_you_mean
from condition_service.work import WORK_COLUMNS, read_work
from formats.streams import Model, Params, format_streams

__all__ = ["Conditioned", "Settings", "condition", "sheet_texts"]

REQUIRED = ("work", "staff", "params")
RAW_SUFFIX = ".tsv"


@dataclass
class Conditioned:
    """The outcome of conditioning one workbook."""

    model: Model | None
    problems: list[Problem] = field(default_factory=list)
    estimates: dict[str, dict] = field(default_factory=dict)  # item id -> as written

    @property
    def fatal(self) -> bool:
        """True when the workbook could not be conditioned (``model`` is None)."""
        return self.model is None

    @property
    def streams(self) -> str | None:
        """The qplan streams v1 text, or None when fatal."""
        return None if self.model is None else format_streams(self.model)

    def counts(self) -> dict[str, int]:
        """How many problems of each severity."""
        return count(self.problems)


def sheet_texts(files: Mapping[str, bytes | str], found: list[Problem]) -> dict[str, str]:
    """The ``<sheet>.tsv`` files as text keyed by sheet name; other files are left out."""
    texts = {}
    for name, data in files.items():
        if not name.lower().endswith(RAW_SUFFIX):
            continue
        sheet = name.rsplit("/", 1)[-1][: -len(RAW_SUFFIX)]
        if isinstance(data, bytes):
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                text = data.decode("utf-8", errors="replace")
                Problems(sheet, found).warning(
                    f"the file is not valid UTF-8 ({exc.reason} at byte {exc.start}); "
                    "unreadable characters are shown as \ufffd"
                )
        else:
            text = data
        texts[sheet] = text.removeprefix("\ufeff")
    return texts


def _known_headers(vocabulary: Vocabulary) -> dict[str, frozenset[str]]:
    """Per role, the header names (normalised) that tell its header row from a title row."""
    skills = {normalise(name) for name in vocabulary.skill_names()}
    params = {alias for names in PARAM_NAMES.values() for alias in names}
    return {
        "work": frozenset({a for names in WORK_COLUMNS.values() for a in names} | skills),
        "staff": frozenset(a for names in STAFF_COLUMNS.values() for a in names),
        "params": frozenset({a for names in PARAM_COLUMNS.values() for a in names} | params),
        "holidays": frozenset(a for names in HOLIDAY_COLUMNS.values() for a in names),
    }


def column_letter(index: int) -> str:
    """The spreadsheet letter of a 0-based column index (0 -> A, 27 -> AB)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _formulas(table: Table, problems: Problems) -> None:
    """A cell holding a formula without its saved value (``=...``) is a problem and left empty.

    pull_raw writes such a cell as its formula text: a file written by a script and never
    opened in a spreadsheet app has no saved results, and the mesh does not compute them.
    """
    for row in [*([table.header] if table.header else []), *table.rows]:
        for index, cell in enumerate(row.cells):
            if cell.strip().startswith("="):
                where = f"{column_letter(index)}{row.number}"
                column = table.heading(index) if row is not table.header else None
                problems.error(
                    f"cell {where} holds a formula with no saved value ({cell.strip()[:60]}); "
                    "it is treated as missing, not as 0 — open the file in a spreadsheet app "
                    "and save it, so the value is saved with it",
                    row.number,
                    column or column_letter(index),
                    cell.strip()[:200],
                )
                row.cells[index] = ""


def _tables(texts: dict[str, str], found: list[Problem], vocabulary: Vocabulary) -> dict:
    """The sheet that plays each role; a missing required sheet is a fatal problem."""
    roles, clashes = find_sheets(texts, vocabulary.settings.sheet_aliases)
    for role, kept, ignored in clashes:
        Problems(ignored, found).warning(
            f"this sheet is also a {role!r} sheet; {kept!r} is used and this one is ignored"
        )
    for role in REQUIRED:
        if role not in roles:
            others = ", ".join(repr(name) for name in SHEET_NAMES[role][1:4])
            sheets = ", ".join(repr(name) for name in texts) or "none"
            guess = did_you_mean(role, [n for n in texts if n not in roles.values()])
            Problems(role, found).fatal(
                f"the workbook has no {role!r} sheet (also accepted: {others}, a name with "
                f"one of them as a word, or [condition_service] sheet_aliases); the sheets "
                f"found are {sheets}{guess}; nothing can be planned without it"
            )
    known = _known_headers(vocabulary)
    tables = {}
    for role, name in roles.items():
        table = read_table(name, texts[name], known[role])
        problems = Problems(name, found)
        if table.above and table.header is not None:
            names = ", ".join(cell.strip() for cell in table.header.cells if cell.strip())
            problems.warning(
                f"row {table.header.number} is taken as the header ({names[:120]}); the "
                f"{len(table.above)} row(s) above it are not read",
                table.header.number,
            )
        _formulas(table, problems)
        tables[role] = table
    return tables


def _scheduled(quarter: Quarter, model: Model, vocabulary: Vocabulary) -> tuple[str, ...]:
    """The scheduled skills: as the params say, or every known skill the staff and work use.

    A skill config.ini does not know (already flagged where it is written)
    does not decide dates unless the params name it.
    """
    if quarter.scheduled is not None:
        return quarter.scheduled
    used = {person.skill for person in model.staff}
    used.update(skill for item in model.work for skill, _ in item.estimate)
    return tuple(skill for skill in vocabulary.settings.skills if skill in used)


def _in_sheet_order(problems: list[Problem], tables: dict[str, Table]) -> list[Problem]:
    """Problems sorted by sheet (work, staff, params, holidays), then row."""
    rank = {table.name: ROLES.index(role) for role, table in tables.items()}
    rank.update({role: ROLES.index(role) for role in ROLES if role not in tables})
    return sorted(problems, key=lambda p: (rank.get(p.sheet, len(ROLES)), p.row or 0))


def condition(files: Mapping[str, bytes | str], settings: Settings | None = None) -> Conditioned:
    """Condition the files of one raw snapshot into a model and its problems."""
    vocabulary = Vocabulary(settings or Settings())
    found: list[Problem] = []
    tables = _tables(sheet_texts(files, found), found, vocabulary)

    def read(role: str, reader, *args, missing=None):
        """Run a sheet's reader when the workbook has that sheet."""
        if role not in tables:
            return missing
        return reader(Problems(tables[role].name, found), tables[role], *args)

    # Staff first, so a track is spelt the way the staff sheet spells it.
    staff = read("staff", read_staff, vocabulary)
    vocabulary.staff_tracks = sorted({person.track for person in staff or []})
    estimates: dict[str, dict] = {}
    work = read("work", read_work, vocabulary, estimates)
    quarter = read("params", read_params, vocabulary)
    holidays = read("holidays", read_holidays, missing=[])
    ordered = _in_sheet_order(found, tables)
    if any(part is None for part in (staff, work, quarter)) or count(found)["fatal"]:
        return Conditioned(None, ordered, estimates)
    model = Model(Params(quarter.start, quarter.end), tuple(holidays), staff, work)
    model.params = Params(quarter.start, quarter.end, _scheduled(quarter, model, vocabulary))
    return Conditioned(model, ordered, estimates)
