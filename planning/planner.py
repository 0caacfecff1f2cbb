"""The planner: a parsed streams Model in, the plan (DOMAIN.md "Plan JSON") out.

Pure functions, no sockets. ``compute_plan`` follows DOMAIN.md "What the
planner computes" for the synthetic track All and for every track on its
own: manpower, cumulative demand per triage level, a shortage per item (a
walk in rank order against the manpower) and a dev-complete date per item
(a greedy list schedule over the work days). ``plan_to_json`` writes the
document with keys sorted.

Choices DOMAIN.md leaves open:

- ``tracks`` is ``["All"]`` plus the sorted union of staff and work tracks;
  a data track named "All" is folded into the synthetic one.
- ``skills`` is the sorted union of staff, estimate and scheduled skills;
  every ``manpower``, ``demand`` and ``staff`` map lists every skill.
- ``params.num_weeks`` is the quarter's weekdays / 5, holidays not removed.
- An item's ``triage`` is its level (1, 1.5, 2, 2.5 or 3); numbers that are
  whole are written without ``.0``; a shortage that rounds to 0.00 is left out.
- A quarter without a single work day finishes nothing: every end is null.

The schedule, its hot path, is ``planning.schedule``; why each date is what it is, the
weekly load and leverage are ``planning.insight``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from operator import attrgetter
from typing import Any

try:  # optional: writes a 20,000-item plan 3-4 times faster than the json module
    import orjson
except ImportError:  # pragma: no cover - depends on what is installed
    orjson = None

from formats.streams import TRIAGE_LEVELS, Model, Person, format_number, triage_level
from planning.insight import Calendar, Reasons, leverage, load
from planning.insight import calendar as make_calendar
from planning.schedule import (
    DAYS_PER_WEEK,
    EPSILON,
    Schedule,
    lane,
    people_per_skill,
    per_day_limit,
    plan_skills,
    schedule,
    weekday_count,
    work_days,
)
from planning.schedule import weeks as _weeks

__all__ = [
    "ALL",
    "EPSILON",
    "Schedule",
    "compute_plan",
    "plan_frame",
    "track_view",
    "plan_to_json",
    "plan_to_bytes",
    "track_view_json",
    "plan_pieces",
    "schedule",
    "people_per_skill",
    "work_days",
    "weekday_count",
    "per_day_limit",
    "plan_skills",
    "lane",
    "layout",
    "Layout",
]

ALL = "All"
LEVEL_KEYS = tuple(format_number(level) for level in TRIAGE_LEVELS)  # "1", "1.5", ...
_LEVEL_NUMBERS = tuple(int(level) if level.is_integer() else level for level in TRIAGE_LEVELS)


@dataclass(slots=True)
class _Work:
    """One item, prepared once for every view it appears in.

    The maps written into the plan (``written``, ``lacking``, and ``estimate``, from which
    shortages are made) list their skills sorted, as the plan's JSON does, so that a row
    built with its keys in order is already written the way ``plan_to_json`` sorts it.
    ``effort`` keeps the order of the estimate as written: the schedule's binding skill,
    on a tie, is the first of them.
    """

    id: str
    rank: float | int  # as written in the plan
    name: str
    track: str
    level: int  # index into TRIAGE_LEVELS
    estimate: dict[str, float]  # man-weeks per skill, duplicates summed
    effort: dict[str, float] | None  # scheduled skills only; None: no estimate
    written: dict[str, float | int]  # the estimate as the plan writes it
    lacking: dict[str, float | int]  # the shortage once every skill of it has run out

    def takes(self, skill: str) -> bool:
        """Whether the item takes days of ``skill``'s lane (a scheduled part above noise)."""
        return self.effort is not None and self.effort.get(skill, 0.0) > EPSILON


def item_fields(work: _Work) -> dict[str, Any]:
    """The fields of a view's row that its item alone decides (as the rows below write them)."""
    return {
        "estimate": work.written,
        "id": work.id,
        "name": work.name,
        "rank": work.rank,
        "track": work.track,
        "triage": _LEVEL_NUMBERS[work.level],
    }


def _sized(parts: tuple[tuple[str, float], ...], scheduled: set[str] | None) -> tuple:
    """An estimate's maps: man-weeks per skill (a skill named twice: its parts added up),
    the scheduled part of it in the order written (None: no estimate), as written, and what
    it lacks when every skill of it has run out."""
    merged = dict(parts)
    if len(merged) < len(parts):
        merged = {}
        for skill, weeks in parts:
            merged[skill] = merged.get(skill, 0.0) + weeks
    if not parts:
        effort = None
    elif scheduled is None:
        effort = merged
    else:
        effort = {skill: weeks for skill, weeks in merged.items() if skill in scheduled}
    estimate = dict(sorted(merged.items()))
    written = {skill: _weeks(weeks) for skill, weeks in estimate.items()}
    lacking = {skill: -weeks for skill, weeks in written.items() if weeks > 0}
    return estimate, effort, written, lacking


def _cumulative(per_level: list[dict[str, list[float]]], skills: list[str]) -> dict[str, Any]:
    """Demand per triage level per skill, each level including the ones above it."""
    # fsum: the exact sum whatever the order, so All is exactly the sum of its tracks.
    demand = {}
    running: dict[str, list[float]] = {skill: [] for skill in skills}
    for key, row in zip(LEVEL_KEYS, per_level, strict=True):
        for skill in skills:
            running[skill] += row[skill]
        demand[key] = {skill: _weeks(math.fsum(parts)) for skill, parts in running.items()}
    return demand


def _short(work: _Work, supply: dict[str, float]) -> dict[str, float | int]:
    """What ``work`` lacks per skill; takes it from ``supply``, which holds skills not yet gone."""
    short = {}
    for skill, weeks in work.estimate.items():
        have = supply.get(skill)
        if have is None:
            left = -weeks
        else:
            left = have - weeks
            if left > EPSILON:
                supply[skill] = left
            else:
                del supply[skill]
        if left < -EPSILON and _weeks(left) < 0:
            short[skill] = _weeks(left)
    return short


def _view(
    works: list[_Work],
    people: list[Person],
    skills: list[str],
    scheduled: list[str],
    calendar: Calendar,
    pooled: bool = False,
) -> dict[str, Any]:
    """The plan of one track (or All): manpower, demand, staff, work, load and leverage."""
    view, rows = _view_rows(works, people, skills, scheduled, calendar, pooled)
    view["work"] = list(rows)
    return view


def _view_rows(
    works: list[_Work],
    people: list[Person],
    skills: list[str],
    scheduled: list[str],
    calendar: Calendar,
    pooled: bool,
) -> tuple[dict[str, Any], Iterator[dict[str, Any]]]:
    """``_view`` without "work", and its rows to come: made one by one as they are read."""
    days, iso_days = calendar.days, calendar.iso
    staff: dict[str, list[str]] = {skill: [] for skill in skills}
    for person in people:
        staff[person.skill].append(person.name)
    capacity = people_per_skill(people, skills, days)
    manpower = {skill: sum(capacity[skill]) / DAYS_PER_WEEK for skill in skills}
    lanes = {s: capacity[s] for s in scheduled}
    efforts = [work.effort for work in works]
    planned = schedule(len(days), lanes, efforts)
    whys = Reasons(planned, lanes, {s: len(staff[s]) for s in scheduled}, calendar, pooled).each(
        efforts
    )
    # One walk in rank order sums the demand and finds the shortages (DOMAIN.md 2 and 4).
    per_level: list[dict[str, list[float]]] = [{s: [] for s in skills} for _ in TRIAGE_LEVELS]
    supply = {skill: weeks for skill, weeks in manpower.items() if weeks > EPSILON}
    shorts = []
    for work in works:
        demand = per_level[work.level]
        for skill, weeks in work.estimate.items():
            demand[skill].append(weeks)
        # A skill whose supply is gone stays gone (it only ever becomes -d), so an item
        # whose skills have all run out lacks its whole estimate: ``work.lacking``.
        if supply and not supply.keys().isdisjoint(work.estimate):
            shorts.append(_short(work, supply))
        else:
            shorts.append(work.lacking)
    iso = [*iso_days, None]  # index -1 (None: never, or DNF) reads None
    rows = (  # keys in sorted order: see _Work
        {
            "binding": binding,
            "end": iso[-1 if end is None else end],
            "estimate": work.written,
            "id": work.id,
            "name": work.name,
            "rank": work.rank,
            "shortage": short,
            "start": iso[-1 if start is None else start],
            "track": work.track,
            "triage": _LEVEL_NUMBERS[work.level],
            "why": why,
        }
        for work, short, end, start, binding, why in zip(
            works, shorts, planned.ends, planned.starts, planned.binding, whys, strict=True
        )
    )
    view = {  # every map built with its keys sorted, "work" last: see track_view_json
        "demand": _cumulative(per_level, skills),
        "leverage": leverage(planned, lanes, len(days)),
        "load": load(planned, lanes, calendar),
        "manpower": {skill: _weeks(weeks) for skill, weeks in manpower.items()},
        "staff": staff,
    }
    return view, rows


@dataclass
class Layout:
    """What every plan of a model starts from: skills, work days, items and people per track."""

    skills: list[str]
    scheduled: list[str]
    calendar: Calendar
    works: list[_Work]  # in rank order (ties keep input order)
    tracks: list[str]  # the data tracks, sorted (All not included)
    works_by_track: dict[str, list[_Work]]
    people_by_track: dict[str, list[Person]]


def layout(model: Model) -> Layout:
    """Sort and group ``model`` the way every plan of it (and every forecast run) needs it."""
    params = model.params
    wanted = set(params.scheduled) or None  # an item's effort: these skills (None: all)
    # A plan repeats the same few estimates thousands of times: their maps are made once
    # (nothing changes them once made), and so is each triage level's index.
    sized: dict[tuple, tuple] = {}
    levels: dict[float, int] = {}
    works = []
    for item in sorted(model.work, key=attrgetter("rank")):
        try:
            estimate, effort, written, lacking = sized[item.estimate]
        except KeyError:
            estimate, effort, written, lacking = sized[item.estimate] = _sized(
                item.estimate, wanted
            )
        level = levels.get(item.triage)
        if level is None:
            level = levels[item.triage] = TRIAGE_LEVELS.index(triage_level(item.triage))
        rank = item.rank
        works.append(
            _Work(
                item.id,
                int(rank) if rank.is_integer() else rank,
                item.name,
                item.track,
                level,
                estimate,
                effort,
                written,
                lacking,
            )
        )
    skills = {person.skill for person in model.staff}  # as plan_skills finds them
    skills.update(skill for parts in sized for skill, _ in parts)
    skills = sorted(skills.union(params.scheduled))
    tracks = sorted(
        ({p.track for p in model.staff} | {i.track for i in model.work}) - {ALL},
    )
    works_by_track: dict[str, list[_Work]] = {track: [] for track in tracks}
    for work in works:
        works_by_track.get(work.track, []).append(work)
    people_by_track: dict[str, list[Person]] = {track: [] for track in tracks}
    for person in model.staff:
        people_by_track.get(person.track, []).append(person)
    days = work_days(params.start, params.end, model.holidays)
    calendar = make_calendar(params.start, days, model.holidays)
    scheduled = list(params.scheduled) or skills
    return Layout(skills, scheduled, calendar, works, tracks, works_by_track, people_by_track)


def compute_plan(model: Model) -> dict[str, Any]:
    """The plan of ``model`` (without "problems" and "lineage", which the service adds)."""
    lay = layout(model)
    plan = plan_frame(model, lay)
    plan["by_track"] = {track: track_view(model, lay, track) for track in plan["tracks"]}
    return plan


def plan_frame(model: Model, lay: Layout) -> dict[str, Any]:
    """The plan without its views: params, skills, triages and tracks (All first)."""
    params = model.params
    return {
        "params": {
            "start": params.start.isoformat(),
            "end": params.end.isoformat(),
            "num_weeks": _weeks(weekday_count(params.start, params.end) / DAYS_PER_WEEK),
            "scheduled_skills": lay.scheduled,
            "holidays": [day.isoformat() for day in sorted(set(model.holidays))],
        },
        "skills": lay.skills,
        "triages": list(_LEVEL_NUMBERS),
        "tracks": [ALL, *lay.tracks],
    }


def track_view(model: Model, lay: Layout, track: str) -> dict[str, Any]:
    """The plan of one track of ``lay`` (its ``by_track`` entry); All pools every person."""
    return _view(*_inputs(model, lay, track))


def track_view_json(model: Model, lay: Layout, track: str, rows: int = 1000) -> list[bytes]:
    """``track_view`` as compact JSON, keys sorted, in pieces (needs orjson).

    The rows are made and written ``rows`` at a time, so a big view never holds all its
    rows as objects: each batch's memory is used again by the next (in this VM a page
    first touched costs about 2.7 us). Every map of a view is built with its keys in
    order, "work" last, so nothing is sorted again.
    """
    view, made = _view_rows(*_inputs(model, lay, track))
    pieces = [orjson.dumps(view)[:-1] + b',"work":[']
    while batch := list(islice(made, rows)):
        text = orjson.dumps(batch)
        pieces.append(text[1:-1] if len(pieces) == 1 else b"," + text[1:-1])
    pieces.append(b"]}")
    return pieces


def _inputs(model: Model, lay: Layout, track: str) -> tuple:
    """``_view``'s arguments for one track (All: every item and person, pooled)."""
    if track == ALL:
        works, people, pooled = lay.works, list(model.staff), True
    else:
        works, people, pooled = lay.works_by_track[track], lay.people_by_track[track], False
    return works, people, lay.skills, lay.scheduled, lay.calendar, pooled


def plan_to_json(plan: Mapping[str, Any], pretty: bool = False) -> str:
    """The plan as JSON, keys sorted; ``pretty`` puts one key a line (for git diffs)."""
    if pretty:
        return json.dumps(plan, sort_keys=True, ensure_ascii=False, indent=1) + "\n"
    return plan_to_bytes(plan).decode("utf-8")


def plan_to_bytes(plan: Mapping[str, Any]) -> bytes:
    """The compact JSON of ``plan`` (keys sorted) as UTF-8."""
    if orjson is not None:
        try:
            return orjson.dumps(plan, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:
            pass  # e.g. a whole number beyond 64 bits: the standard encoder writes it
    return _compact_json(plan).encode("utf-8")


def plan_pieces(frame: Mapping[str, Any], views: Mapping[str, Sequence[Any]]) -> list:
    """The compact JSON of the plan ``frame`` (``plan_frame``) with ``views`` (each track's
    view in pieces, bytes-like, as ``track_view_json`` writes it) as its ``by_track``, in
    pieces to write one after another: the same bytes as ``plan_to_bytes``, without
    copying the views into one text.

    "by_track" sorts before every key of the frame, so it comes first (needs orjson).
    """
    pieces: list[Any] = [b'{"by_track":{']
    for n, track in enumerate(sorted(views)):
        pieces.append((b"," if n else b"") + orjson.dumps(track) + b":")
        pieces.extend(views[track])
    pieces.append(b"}," + orjson.dumps(frame, option=orjson.OPT_SORT_KEYS)[1:])
    return pieces


def _compact_json(plan: Mapping[str, Any]) -> str:
    """The compact form with the standard library (the same text orjson writes)."""
    # A plan is a tree (no cycles), so the encoder need not look for them.
    return json.dumps(
        plan, sort_keys=True, ensure_ascii=False, separators=(",", ":"), check_circular=False
    )
