"""Fields every row-based sheet shares: safe text, tracks, ids, and the checks on columns.

These functions read one field of one row into what the streams hold and
report, through a ``Problems``, anything they had to change.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from condition_service.cells import clean_text
from condition_service.problems import Problems
from condition_service.sheets import Row, Table, match_columns
from condition_service.vocabulary import Vocabulary, did_you_mean

__all__ = [
    "UNASSIGNED",
    "Ids",
    "find_columns",
    "id_field",
    "safe_field",
    "skill_field",
    "track_field",
]

UNASSIGNED = "Unassigned"  # the track of a row that names none
SYNTHETIC_TRACK = "all"  # the planner's all-tracks view; a real track may not take its name


def safe_field(problems: Problems, row: Row, header: str, text: str, what: str) -> str:
    """``text`` made safe for the streams format, with a warning when it had to change."""
    safe, changed = clean_text(text)
    if changed:
        problems.warning(
            f"the {what} contains a TAB, line break or ':', which the plan format cannot "
            f"hold; written as {safe!r}",
            row.number,
            header,
            text,
        )
    return safe


def _numbered_twins(a: str, b: str) -> bool:
    """True for names that differ only in their digits (Track1, Track2): not a typo."""
    return re.sub(r"\d", "", a) == re.sub(r"\d", "", b)


def track_field(
    problems: Problems,
    vocabulary: Vocabulary,
    row: Row,
    header: str | None,
    text: str,
    suggest: bool = False,
) -> str:
    """The row's track: aliases applied, ``Unassigned`` (with a warning) when blank.

    With ``suggest`` (work rows, read after the staff), a track nobody works on that is close
    to one people do work on gets a warning with a "did you mean".
    """
    if not text:
        problems.warning(f"no track; put on track {UNASSIGNED!r}", row.number, header, None)
        return vocabulary.track(UNASSIGNED)
    seen = vocabulary.staff_tracks
    track = vocabulary.track(safe_field(problems, row, header or "Track", text, "track"))
    if suggest and seen and track not in seen:
        guess = did_you_mean(track, [t for t in seen if not _numbered_twins(t, track)])
        if guess:
            problems.warning(
                f"nobody works on track {track!r}{guess}; its items are planned on their own "
                "track with no people",
                row.number,
                header,
                text,
            )
    if track.lower() == SYNTHETIC_TRACK:
        renamed = vocabulary.track(f"{track} (track)")
        problems.warning(
            f"{track!r} is the name of the plan's view of all tracks together; "
            f"this track is called {renamed!r}",
            row.number,
            header,
            text,
        )
        return renamed
    return track


def skill_field(
    problems: Problems, vocabulary: Vocabulary, row: Row, header: str | None, text: str, cell: str
) -> str:
    """One skill in config.ini's spelling; a skill it does not know is kept, with a warning."""
    skill, known = vocabulary.skill(clean_text(text)[0])
    if not known:
        skills = ", ".join(vocabulary.settings.skills)
        guess = vocabulary.skill_guess(skill)
        problems.warning(
            f"{skill!r} is not one of the skills in config.ini ({skills}){guess}; kept as written",
            row.number,
            header,
            cell,
        )
    return skill


def id_field(
    problems: Problems, ids: Ids, row: Row, header: str | None, written: str, name: str
) -> str:
    """The row's id: as written (a repeated one is renamed, with a warning), else derived."""
    if not written:
        return ids.derive(name)
    wanted = safe_field(problems, row, header or "ID", written, "id")
    given = ids.claim(wanted)
    if given != wanted:
        problems.warning(
            f"id {wanted!r} is used by an earlier row; this row gets {given!r}",
            row.number,
            header,
            written,
        )
    return given


def find_columns(
    problems: Problems,
    table: Table,
    aliases: dict[str, tuple[str, ...]],
    required: Iterable[str],
) -> tuple[dict[str, int], list[int]]:
    """Match a sheet's header; report repeated columns (warning) and missing ones (fatal).

    Returns the index of each column role found and the indexes of headers
    that match no role.
    """
    header = table.header
    columns, unmatched, repeats = match_columns(header, aliases)
    for role, index in repeats:
        problems.warning(
            f"a second {role!r} column; the first one, {table.heading(columns[role])!r}, "
            "is used and this one is ignored",
            header.number,
            table.heading(index),
        )
    for role in required:
        if role not in columns:
            names = ", ".join(repr(name) for name in aliases[role])
            guess = did_you_mean(role, [table.heading(index) for index in unmatched])
            problems.fatal(
                f"no {role.capitalize()!r} column (accepted headers: {names}){guess}; "
                "the sheet cannot be read without it",
                header.number,
                role.capitalize(),
            )
    return columns, unmatched


def _name_key(name: str) -> str:
    """A name as ids are derived from it: lower case, single spaces."""
    return " ".join(name.lower().split())


class Ids:
    """Hands out unique ids: the ones written in the sheet, or ones derived from names.

    Ids written in the sheet are reserved first, so a derived id never takes
    one of them. A derived id is ``prefix`` + the first 8 hex digits of the
    SHA-1 of the lower-cased name, so it stays the same from pull to pull;
    a clash gets ``-2``, ``-3``, ...
    """

    def __init__(self, prefix: str, written: Iterable[str]) -> None:
        self.prefix = prefix
        self.reserved = set(written)
        self.used: set[str] = set()

    def _take(self, base: str, free: bool) -> str:
        """``base`` when it is free, else the first free ``base-N`` (N = 2, 3, ...)."""
        candidate, number = base, 1
        while not free:
            number += 1
            candidate = f"{base}-{number}"
            free = candidate not in self.used and candidate not in self.reserved
        self.used.add(candidate)
        return candidate

    def claim(self, written: str) -> str:
        """The id written in the sheet, or a fresh ``<id>-N`` when an earlier row has it."""
        return self._take(written, written not in self.used)

    def derive(self, name: str) -> str:
        """A stable id made from the name."""
        digest = hashlib.sha1(_name_key(name).encode("utf-8"), usedforsecurity=False).hexdigest()
        base = f"{self.prefix}{digest[:8]}"
        return self._take(base, base not in self.used and base not in self.reserved)
