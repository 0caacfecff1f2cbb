"""The ``staff`` sheet: one person a row, with one skill, a track and vacation days."""

from __future__ import annotations

import re

from condition_service.cells import clean_text, parse_days
from condition_service.fields import (
    Ids,
    find_columns,
    id_field,
    safe_field,
    skill_field,
    track_field,
)
from condition_service.problems import Problems
from condition_service.sheets import Row, Table
from condition_service.vocabulary import Vocabulary
from formats.streams import Person

__all__ = ["STAFF_COLUMNS", "read_staff"]

STAFF_COLUMNS = {
    "id": ("id", "personid", "login"),
    "name": ("name", "person", "who"),
    "team": ("team", "group"),
    "track": ("track", "stream", "area"),
    "skill": ("skill", "role", "discipline"),
    "vacation": ("vacation", "vacations", "timeoff", "pto", "out"),
}
_SKILL_LIST = re.compile(r"\s*[,;\n]\s*")


def _skills(text: str) -> list[str]:
    """The skills written in a cell (people sometimes write more than one)."""
    return [part for part in _SKILL_LIST.split(text) if clean_text(part)[0]]


def _skill(problems: Problems, vocabulary: Vocabulary, row: Row, header: str, text: str) -> str:
    """The person's one skill; of several, the first is kept (with a warning)."""
    first, *others = _skills(text)
    if others:
        problems.warning(
            f"a person has exactly one skill; {first.strip()!r} is used", row.number, header, text
        )
    return skill_field(problems, vocabulary, row, header, first, text)


def _vacation(problems: Problems, row: Row, header: str | None, text: str) -> tuple:
    """The vacation days of a cell; a part that cannot be read is dropped (error)."""
    if not text:
        return ()
    days, errors = parse_days(text)
    for message in errors:
        problems.error(f"vacation: {message}; that part is dropped", row.number, header, text)
    return tuple(days)


def read_staff(problems: Problems, table: Table, vocabulary: Vocabulary) -> list[Person] | None:
    """The people of the sheet, or None when the sheet cannot be read (a fatal problem)."""
    if table.header is None:
        problems.fatal("the sheet is empty; it needs a header row (Name, Track, Skill, ...)")
        return None
    required = ("name", "track", "skill")
    columns, _ = find_columns(problems, table, STAFF_COLUMNS, required)
    if any(role not in columns for role in required):
        return None
    if not table.rows:
        problems.fatal(
            "the sheet has a header but no people: a plan with nobody would replace the shared "
            "one, so the last good plan stays",
            table.header.number,
        )
        return None
    heading = {role: table.heading(index) for role, index in columns.items()}
    kept = [
        row for row in table.rows if row.get(columns["name"]) and _skills(row.get(columns["skill"]))
    ]
    ids = Ids("P-", (clean_text(row.get(columns.get("id")))[0] for row in kept))
    people = []
    for row in table.rows:
        text = row.get(columns["name"])
        if not text:
            problems.error("the row has no name; it is dropped", row.number, heading["name"])
            continue
        skill_text = row.get(columns["skill"])
        if not _skills(skill_text):
            problems.error(
                f"{text!r} has no skill; the row is dropped", row.number, heading["skill"]
            )
            continue
        name = safe_field(problems, row, heading["name"], text, "name")
        written = row.get(columns.get("id"))
        person_id = id_field(problems, ids, row, heading.get("id"), written, name)
        team_text = row.get(columns.get("team"))
        team = safe_field(problems, row, heading.get("team", "Team"), team_text, "team")
        track = track_field(problems, vocabulary, row, heading["track"], row.get(columns["track"]))
        skill = _skill(problems, vocabulary, row, heading["skill"], skill_text)
        vacation_text = row.get(columns.get("vacation"))
        vacation = _vacation(problems, row, heading.get("vacation"), vacation_text)
        people.append(Person(person_id, name, team, track, skill, vacation))
    return people
