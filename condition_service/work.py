"""The ``work`` sheet: one ranked work item a row, estimates in one cell or a column per skill."""

from __future__ import annotations

from condition_service.cells import (
    clean_text,
    is_blank,
    parse_number,
    split_estimate,
)
from condition_service.fields import (
    Ids,
    find_columns,
    id_field,
    safe_field,
    skill_field,
    track_field,
)
from condition_service.problems import Problems
from condition_service.sheets import Row, Table, normalise
from condition_service.vocabulary import Vocabulary, did_you_mean
from formats.estimates import NOT_SIZED, UNSIZED, Size, parse_size
from formats.streams import Item, format_number, triage_level

__all__ = ["WORK_COLUMNS", "read_work"]

WORK_COLUMNS = {
    "id": ("id", "key", "itemid"),
    "rank": ("rank", "priority", "order", "#"),
    "name": ("name", "item", "title", "summary", "feature"),
    "track": ("track", "stream", "area"),
    "triage": ("triage", "tri", "importance"),
    "estimate": ("estimate", "estimates", "effort", "size"),
}
DEFAULT_TRIAGE = 3.0
TRIAGE_RANGE = (1.0, 3.0)
DIGITS = 6  # decimals the streams format keeps (format_number)


class _Estimate:
    """The parts of one item's estimate, as they are read, first mention of a skill wins."""

    def __init__(self, problems: Problems, vocabulary: Vocabulary, row: Row) -> None:
        self.problems = problems
        self.vocabulary = vocabulary
        self.row = row
        self.parts: dict[str, float] = {}
        self.written: dict[str, Size] = {}
        self.unsized: str | None = None  # the cell that said "not sized yet"

    def add(self, skill: str, size: Size, header: str, cell: str) -> None:
        """Add one skill's estimate; a skill given twice keeps its first value."""
        weeks = size.weeks
        if skill in self.parts:
            self.problems.warning(
                f"{skill} is estimated twice ({format_number(self.parts[skill])} and "
                f"{format_number(weeks)}); the first, {format_number(self.parts[skill])}, is kept",
                self.row.number,
                header,
                cell,
            )
            return
        self.parts[skill] = round(weeks, DIGITS)
        self.written[skill] = size

    def _size(self, text: str, what: str, header: str, cell: str) -> Size | None:
        """One size through the shared parser; None (with a problem or unsized) if unusable."""
        try:
            size = parse_size(text, self.vocabulary.settings.sizes)
        except ValueError as exc:
            self._error(f"{what}: {exc}", header, cell)
            return None
        if size is UNSIZED:
            self.unsized = cell
            return None
        return size

    def read_cell(self, header: str, cell: str) -> None:
        """Read an ``Apps:S, Native:2w, Web:2-3`` cell; a part that cannot be read is dropped."""
        if " ".join(cell.split()).lower() in NOT_SIZED:
            self.unsized = cell
            return
        for skill_text, size in split_estimate(cell):
            part = f"{skill_text}:{size}" if skill_text and size else skill_text or size
            if not clean_text(skill_text)[0]:
                self._error(f"{part!r} names no skill; write Skill:size like Apps:3", header, cell)
                continue
            if not size:
                self._error(f"{part!r} gives no size; write Skill:size like Apps:3", header, cell)
                continue
            weeks = self._size(size, f"in {part!r}", header, cell)
            if weeks is None:
                continue
            skill = skill_field(self.problems, self.vocabulary, self.row, header, skill_text, cell)
            self.add(skill, weeks, header, cell)

    def read_column(self, skill: str, header: str, cell: str) -> None:
        """Read one skill column's cell (``S``, ``2M``, ``3``, ``2w``, ``2-3w``)."""
        size = self._size(cell, skill, header, cell)
        if size is not None:
            self.add(skill, size, header, cell)

    def _error(self, what: str, header: str, cell: str) -> None:
        """Report a part of the estimate that is dropped (the item is planned without it)."""
        self.problems.error(
            f"estimate {what}; that part is left out of the plan", self.row.number, header, cell
        )

    def details(self) -> dict:
        """The item's entry of ``conditioned/estimates.json``."""
        skills = {skill: size.as_dict() for skill, size in self.written.items()}
        return {"unsized": not self.parts, "skills": skills}


def _skill_columns(
    problems: Problems, table: Table, unmatched: list[int], vocabulary: Vocabulary
) -> list[tuple[int, str]]:
    """The columns named after a skill, as ``(index, skill)``; a repeated skill is ignored."""
    found: dict[str, int] = {}
    headers = [a for names in WORK_COLUMNS.values() for a in names]
    for index in unmatched:
        skill = vocabulary.known_skill(table.heading(index))
        if skill is None:
            guess = vocabulary.skill_guess(table.heading(index), headers)
            if guess:
                problems.warning(
                    f"the column {table.heading(index)!r} is not read{guess}",
                    table.header.number,
                    table.heading(index),
                )
            continue
        if skill in found:
            problems.warning(
                f"a second column for {skill}; the first one, {table.heading(found[skill])!r}, "
                "is used and this one is ignored",
                table.header.number,
                table.heading(index),
            )
            continue
        found[skill] = index
    return [(index, skill) for skill, index in found.items()]


def _rank(problems: Problems, row: Row, header: str | None, text: str, position: int) -> float:
    """The rank as written; blank or unreadable, the row's position among the data rows."""
    if not text:
        return float(position)
    try:
        return round(parse_number(text), DIGITS)
    except ValueError as exc:
        message = f"rank {exc}; the row's position, {position}, is used"
        problems.warning(message, row.number, header, text)
        return float(position)


def _triage(
    problems: Problems, vocabulary: Vocabulary, row: Row, header: str | None, text: str
) -> float:
    """The triage level: a number (outside 1..3 clamped) or a word; blank is 3.

    An unknown word is an error on the cell and the row keeps triage 3.
    """
    if not text:
        return DEFAULT_TRIAGE
    words = vocabulary.settings.triage_words
    try:
        value = parse_number(text)
    except ValueError:
        level = words.get(normalise(text))
        if level is not None:
            return triage_level(level)
        examples = "urgent/P0 = 1, high/P1 = 1.5, medium/P2 = 2, low/P3 = 2.5, P4 = 3"
        problems.error(
            f"triage {text!r} is not a number from 1 to 3 nor a known word ({examples})"
            f"{did_you_mean(text, words)}; {format_number(DEFAULT_TRIAGE)} is used",
            row.number,
            header,
            text,
        )
        return DEFAULT_TRIAGE
    low, high = TRIAGE_RANGE
    if not low <= value <= high:
        clamped = min(max(value, low), high)
        problems.warning(
            f"triage {text} is outside 1 to 3; {format_number(clamped)} is used",
            row.number,
            header,
            text,
        )
        value = clamped
    return triage_level(value)


def read_work(
    problems: Problems,
    table: Table,
    vocabulary: Vocabulary,
    estimates: dict[str, dict] | None = None,
) -> list[Item] | None:
    """The work items of the sheet, or None when the sheet cannot be read (a fatal problem).

    ``estimates`` gets each item's estimate as written (``conditioned/estimates.json``), and
    every problem of an item's row is tagged with the item's id.
    """
    if table.header is None:
        problems.fatal("the sheet is empty; it needs a header row (Name, Track, Estimate, ...)")
        return None
    columns, unmatched = find_columns(problems, table, WORK_COLUMNS, ("name", "track"))
    skill_columns = _skill_columns(problems, table, unmatched, vocabulary)
    if "estimate" not in columns and not skill_columns:
        skills = ", ".join(vocabulary.settings.skills)
        problems.fatal(
            f"no estimate: the sheet needs an 'Estimate' column or a column per skill ({skills})",
            table.header.number,
            "Estimate",
        )
        return None
    if "name" not in columns or "track" not in columns:
        return None
    if not table.rows:
        problems.fatal(
            "the sheet has a header but no work items: a plan of nothing would replace the "
            "shared one, so the last good plan stays",
            table.header.number,
        )
        return None
    heading = {role: table.heading(index) for role, index in columns.items()}
    named = [row for row in table.rows if row.get(columns["name"])]
    ids = Ids("W-", (clean_text(row.get(columns.get("id")))[0] for row in named))
    items = []
    row_items: dict[int, str] = {}
    for position, row in enumerate(table.rows, start=1):
        text = row.get(columns["name"])
        if not text:
            problems.error("the row has no name; it is dropped", row.number, heading["name"])
            continue
        name = safe_field(problems, row, heading["name"], text, "name")
        written = row.get(columns.get("id"))
        item_id = id_field(problems, ids, row, heading.get("id"), written, name)
        rank = _rank(problems, row, heading.get("rank"), row.get(columns.get("rank")), position)
        triage = _triage(
            problems, vocabulary, row, heading.get("triage"), row.get(columns.get("triage"))
        )
        track = track_field(
            problems, vocabulary, row, heading["track"], row.get(columns["track"]), suggest=True
        )
        estimate = _Estimate(problems, vocabulary, row)
        written_estimate = row.get(columns.get("estimate"))
        if "estimate" in columns and (
            not is_blank(written_estimate) or written_estimate in NOT_SIZED
        ):
            estimate.read_cell(heading["estimate"], row.get(columns["estimate"]))
        for index, skill in skill_columns:
            if not is_blank(row.get(index)) or row.get(index) in NOT_SIZED:
                estimate.read_column(skill, table.heading(index), row.get(index))
        if estimate.unsized is not None and not estimate.parts:
            problems.warning(
                f"{name!r} is not sized yet ({estimate.unsized!r}): it has no date until it "
                "has an estimate",
                row.number,
                heading.get("estimate"),
                estimate.unsized,
            )
        items.append(Item(item_id, rank, name, tuple(estimate.parts.items()), triage, track))
        row_items[row.number] = item_id
        if estimates is not None:
            estimates[item_id] = estimate.details()
    problems.tag_items(row_items)
    return items
