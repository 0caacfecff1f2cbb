"""qplan streams v1: the conditioned text format, parsed into a model and written back.

The format (see ../shared/DOMAIN.md): four streams in this order, each a
header line ``=====NAME`` and data lines that start with one TAB, fields
separated by TABs, dates written ``Oct 7, 2013``::

    =====qplan params v1
    \tSTART\tEND\tSkill1:Skill2:...
    =====qplan holidays v1
    \tDATE
    =====qplan staff v1
    \tID\tNAME\tTEAM\tTRACK\tSKILL\tVAC1:VAC2:...
    =====qplan work v1
    \tID\tRANK\tNAME\tSkill:weeks,Skill:weeks\tTRIAGE\tTRACK

``parse_streams`` raises ``StreamsError`` naming the line for text that does
not follow the format; ``format_streams`` writes a model so that parsing it
gives the same model back.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

__all__ = [
    "Params",
    "Person",
    "Item",
    "Model",
    "StreamsError",
    "parse_streams",
    "format_streams",
    "format_date",
    "parse_date",
    "format_number",
    "TRIAGE_LEVELS",
    "triage_level",
]

STREAM_NAMES = ("qplan params v1", "qplan holidays v1", "qplan staff v1", "qplan work v1")
TRIAGE_LEVELS = (1.0, 1.5, 2.0, 2.5, 3.0)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DATE = re.compile(r"^([A-Z][a-z]{2}) (\d{1,2}), (\d{4})$")


class StreamsError(ValueError):
    """Text that does not follow qplan streams v1; the message names the line."""


@dataclass(frozen=True)
class Params:
    """The quarter: first and last day (both counted) and the scheduled skills."""

    start: dt.date
    end: dt.date
    scheduled: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Person:
    """One member of staff; ``vacation`` holds the days they do not work."""

    id: str
    name: str
    team: str
    track: str
    skill: str
    vacation: tuple[dt.date, ...] = ()


@dataclass(frozen=True, slots=True)
class Item:
    """One ranked work item; ``estimate`` is man-weeks per skill, in input order."""

    id: str
    rank: float
    name: str
    estimate: tuple[tuple[str, float], ...]
    triage: float
    track: str


@dataclass
class Model:
    """Everything the planner needs: params, holidays, staff and work."""

    params: Params
    holidays: tuple[dt.date, ...] = ()
    staff: list[Person] = field(default_factory=list)
    work: list[Item] = field(default_factory=list)


def triage_level(value: float) -> float:
    """The lowest triage level >= value (anything above 2.5 is 3)."""
    for level in TRIAGE_LEVELS:
        if value <= level + 1e-9:
            return level
    return TRIAGE_LEVELS[-1]


def format_date(day: dt.date) -> str:
    """``Oct 7, 2013``."""
    return f"{_MONTHS[day.month - 1]} {day.day}, {day.year}"


def parse_date(text: str) -> dt.date:
    """Parse ``Oct 7, 2013``; raises ValueError otherwise."""
    match = _DATE.match(text.strip())
    if not match or match.group(1) not in _MONTHS:
        raise ValueError(f"{text!r} is not a date like 'Oct 7, 2013'")
    month = _MONTHS.index(match.group(1)) + 1
    return dt.date(int(match.group(3)), month, int(match.group(2)))


def format_number(value: float) -> str:
    """A number without a trailing ``.0`` and without float noise (``6.5``, ``3``)."""
    rounded = round(value, 6)
    if rounded == int(rounded):
        return str(int(rounded))
    return repr(rounded)


def _format_estimate(estimate: tuple[tuple[str, float], ...]) -> str:
    return ",".join(f"{skill}:{format_number(weeks)}" for skill, weeks in estimate)


def format_streams(model: Model) -> str:
    """The streams text of ``model``."""
    p = model.params
    lines = [
        f"====={STREAM_NAMES[0]}",
        f"\t{format_date(p.start)}\t{format_date(p.end)}\t{':'.join(p.scheduled)}",
        f"====={STREAM_NAMES[1]}",
    ]
    lines += [f"\t{format_date(day)}" for day in model.holidays]
    lines.append(f"====={STREAM_NAMES[2]}")
    for person in model.staff:
        vacation = ":".join(format_date(day) for day in person.vacation)
        lines.append(
            f"\t{person.id}\t{person.name}\t{person.team}\t{person.track}\t{person.skill}\t{vacation}"
        )
    lines.append(f"====={STREAM_NAMES[3]}")
    for item in model.work:
        lines.append(
            f"\t{item.id}\t{format_number(item.rank)}\t{item.name}\t"
            f"{_format_estimate(item.estimate)}\t{format_number(item.triage)}\t{item.track}"
        )
    return "\n".join(lines) + "\n"


def _number(text: str, what: str, lineno: int) -> float:
    try:
        value = float(text)
    except ValueError:
        raise StreamsError(f"line {lineno}: {what} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise StreamsError(f"line {lineno}: {what} {text!r} is not a finite number")
    return value


def _date(text: str, lineno: int) -> dt.date:
    try:
        return parse_date(text)
    except ValueError as exc:
        raise StreamsError(f"line {lineno}: {exc}") from None


def _estimate(text: str, lineno: int) -> tuple[tuple[str, float], ...]:
    parts = []
    for chunk in text.split(","):
        if not chunk.strip():
            continue
        skill, sep, weeks = chunk.partition(":")
        if not sep or not skill.strip():
            raise StreamsError(f"line {lineno}: estimate part {chunk!r} is not Skill:weeks")
        value = _number(weeks.strip(), "estimate", lineno)
        if value < 0:
            raise StreamsError(f"line {lineno}: estimate {chunk!r} is negative")
        parts.append((skill.strip(), value))
    return tuple(parts)


def _split_streams(text: str) -> dict[str, list[tuple[int, str]]]:
    """Each stream's data lines (number, text), checked for their leading TAB."""
    streams: dict[str, list[tuple[int, str]]] = {}
    current: str | None = None
    for lineno, line in enumerate(text.splitlines(), start=1):
        if line.startswith("====="):
            current = line[5:].strip()
            if current in streams:
                raise StreamsError(f"line {lineno}: stream {current!r} appears twice")
            streams[current] = []
        elif not line.strip():
            continue
        elif current is None:
            raise StreamsError(f"line {lineno}: data before the first =====header")
        elif not line.startswith("\t"):
            raise StreamsError(f"line {lineno}: data lines must start with a TAB")
        else:
            streams[current].append((lineno, line))
    missing = [name for name in STREAM_NAMES if name not in streams]
    if missing:
        raise StreamsError(f"missing stream(s): {', '.join(missing)}")
    return streams


def _rows(lines: list[tuple[int, str]]) -> Iterator[tuple[int, list[str]]]:
    """A stream's lines split into fields, one at a time: a big input's fields are made
    and dropped line by line, not all held at once."""
    for lineno, line in lines:
        yield lineno, line[1:].split("\t")


def _fields(row: list[str], count: int, what: str, lineno: int) -> list[str]:
    if len(row) != count:
        raise StreamsError(f"line {lineno}: a {what} line has {len(row)} fields, expected {count}")
    return [value.strip() for value in row]


class _Cache(dict):
    """Memoises a parse of repeated field texts (dates, estimates) within one document."""

    def __init__(self, parse) -> None:
        super().__init__()
        self.parse = parse

    def get_parsed(self, text: str, lineno: int):
        try:
            return self[text]
        except KeyError:
            value = self[text] = self.parse(text, lineno)
            return value


def parse_streams(text: str) -> Model:
    """Parse streams text into a Model; raises StreamsError naming the bad line."""
    streams = _split_streams(text)
    dates = _Cache(_date)
    estimates = _Cache(_estimate)
    params_rows = list(_rows(streams[STREAM_NAMES[0]]))
    if len(params_rows) != 1:
        raise StreamsError(f"the params stream must have one line, it has {len(params_rows)}")
    lineno, row = params_rows[0]
    start, end, skills = _fields(row, 3, "params", lineno)
    params = Params(
        dates.get_parsed(start, lineno),
        dates.get_parsed(end, lineno),
        tuple(s.strip() for s in skills.split(":") if s.strip()),
    )
    if params.end < params.start:
        raise StreamsError(f"line {lineno}: the quarter ends before it starts")
    holidays = tuple(
        dates.get_parsed(_fields(row, 1, "holiday", n)[0], n)
        for n, row in _rows(streams[STREAM_NAMES[1]])
    )
    staff = []
    for n, row in _rows(streams[STREAM_NAMES[2]]):
        pid, name, team, track, skill, vacation = _fields(row, 6, "staff", n)
        days = tuple(dates.get_parsed(v.strip(), n) for v in vacation.split(":") if v.strip())
        staff.append(Person(pid, name, team, track, skill, days))
    work = []
    for n, row in _rows(streams[STREAM_NAMES[3]]):
        iid, rank, name, estimate, triage, track = _fields(row, 6, "work", n)
        level = _number(triage, "triage", n) if triage else 3.0
        effort = estimates.get_parsed(estimate, n)
        work.append(Item(iid, _number(rank, "rank", n), name, effort, level, track))
    return Model(params, holidays, staff, work)
