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

The schedule is the hot path (20,000 items must plan in a fraction of a
second): per skill it keeps a list of what each work day has left and a
pointer to the first day with anything left, since availability only falls.
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from operator import attrgetter
from typing import Any

try:  # optional: writes a 20,000-item plan 3-4 times faster than the json module
    import orjson
except ImportError:  # pragma: no cover - depends on what is installed
    orjson = None

from formats.streams import TRIAGE_LEVELS, Item, Model, Person, format_number, triage_level

__all__ = [
    "ALL",
    "EPSILON",
    "Schedule",
    "compute_plan",
    "plan_to_json",
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
EPSILON = 1e-9  # person-days or man-weeks below this are float noise, not work
DAYS_PER_WEEK = 5
LEVEL_KEYS = tuple(format_number(level) for level in TRIAGE_LEVELS)  # "1", "1.5", ...
_LEVEL_NUMBERS = tuple(int(level) if level.is_integer() else level for level in TRIAGE_LEVELS)


@dataclass
class Schedule:
    """Where each item starts and ends (work-day indexes; None: never / DNF), per skill too."""

    ends: list[int | None]
    used: dict[str, list[float]]
    starts: list[int | None]  # the first day the item is given any person-day
    done: list[dict[str, int]]  # per scheduled skill worked on: the day it finished, -1 ran out
    binding: list[str | None]  # the skill that finished last, or the first that ran out


def weekday_count(start: dt.date, end: dt.date) -> int:
    """Days Monday to Friday from ``start`` to ``end``, both counted."""
    total = (end - start).days + 1
    if total <= 0:
        return 0
    weeks, rest = divmod(total, 7)
    count = weeks * 5
    day = start.weekday()
    for offset in range(rest):
        if (day + offset) % 7 < 5:
            count += 1
    return count


def work_days(start: dt.date, end: dt.date, holidays: Iterable[dt.date]) -> list[dt.date]:
    """The weekdays from ``start`` to ``end`` (both counted) that are not holidays."""
    off = set(holidays)
    days = (start + dt.timedelta(n) for n in range((end - start).days + 1))
    return [day for day in days if day.weekday() < 5 and day not in off]


def per_day_limit(weeks: float) -> float:
    """How many people may work on ``weeks`` of one skill on one day."""
    if weeks <= 2 + EPSILON:
        return 1.0
    return float(int(weeks / 2 + EPSILON))


def plan_skills(model: Model) -> list[str]:
    """Every skill the plan shows: staff, estimate and scheduled skills, sorted."""
    skills = {person.skill for person in model.staff}
    skills.update(skill for item in model.work for skill, _ in item.estimate)
    skills.update(model.params.scheduled)
    return sorted(skills)


def people_per_skill(
    people: Iterable[Person], skills: Iterable[str], days: Sequence[dt.date]
) -> dict[str, list[float]]:
    """Per skill, how many of ``people`` work on each of ``days`` (vacation taken off)."""
    index = {day: n for n, day in enumerate(days)}
    heads = dict.fromkeys(skills, 0)
    away: dict[str, list[int]] = {skill: [] for skill in skills}
    for person in people:
        if person.skill in heads:
            heads[person.skill] += 1
            away[person.skill] += {index[day] for day in person.vacation if day in index}
    capacity = {}
    for skill, count in heads.items():
        row = [float(count)] * len(days)
        for n in away[skill]:
            row[n] -= 1.0
        capacity[skill] = row
    return capacity


def schedule(
    num_days: int,
    capacity: Mapping[str, Sequence[float]],
    efforts: Sequence[Mapping[str, float] | None],
) -> Schedule:
    """The greedy list schedule of DOMAIN.md, items already in rank order.

    ``capacity`` gives per skill the person-days of each of ``num_days`` work
    days; a skill without capacity has none. ``efforts`` gives per item the
    man-weeks of each scheduled skill: None for an item without an estimate
    (DNF), an empty map for one with no scheduled effort (done on day 0).
    """
    left = {skill: list(days) for skill, days in capacity.items()}
    first = {skill: _first_open(days, 0) for skill, days in left.items()}
    ends: list[int | None] = []
    starts: list[int | None] = []
    finished: list[dict[str, int]] = []
    binding: list[str | None] = []
    for effort in efforts:
        skills_done: dict[str, int] = {}
        finished.append(skills_done)
        if effort is None or num_days == 0:
            ends.append(None)
            starts.append(None)
            binding.append(None)
            continue
        end: int | None = 0
        began = num_days
        last, latest, out = None, -1, None
        for skill, weeks in effort.items():
            if weeks <= EPSILON:
                continue
            start = first.get(skill, num_days)
            if start >= num_days:
                end = None  # no day has anything left: DNF
                skills_done[skill] = -1
                out = out or skill
                continue
            # The first open day is the first one the item takes from.
            began = start if start < began else began
            days = left[skill]
            done = _take(days, start, weeks)
            skills_done[skill] = done
            first[skill] = _first_open(days, start)
            if done < 0:
                end = None  # DNF, but the item's other skills are still worked on
                out = out or skill
            else:
                if done > latest:
                    last, latest = skill, done
                if end is not None and done > end:
                    end = done
        ends.append(end)
        starts.append(began if began < num_days else None)
        binding.append(out or last)
    used = {
        skill: [cap - rest for cap, rest in zip(capacity[skill], days, strict=True)]
        for skill, days in left.items()
    }
    return Schedule(ends, used, starts, finished, binding)


def lane(num_days: int, capacity: Sequence[float], efforts: Sequence[float]) -> list[int]:
    """One skill's schedule alone (a skill's days are its own): the day each effort is done.

    ``efforts`` are man-weeks in rank order (0: the item has none of this skill, done
    day 0); -1 for one that runs out of days.
    """
    days = list(capacity)
    first = _first_open(days, 0)
    out = []
    for weeks in efforts:
        if weeks <= EPSILON:
            out.append(0)
        elif first >= num_days:
            out.append(-1)
        else:
            out.append(_take(days, first, weeks))
            first = _first_open(days, first)
    return out


def _first_open(days: list[float], start: int) -> int:
    """The first day at or after ``start`` with something left (len(days) when none)."""
    end = len(days)
    while start < end and days[start] <= EPSILON:
        start += 1
    return start


def _take(days: list[float], start: int, weeks: float) -> int:
    """Take the person-days of ``weeks`` from ``days`` from ``start`` on; the day done, or -1."""
    need = DAYS_PER_WEEK * weeks
    limit = per_day_limit(weeks)
    for day in range(start, len(days)):
        left = days[day]
        if left <= EPSILON:
            continue
        take = left if left < limit else limit
        if take >= need - EPSILON:
            days[day] = left - (need if need < take else take)
            return day
        days[day] = left - take
        need -= take
    return -1


def _plain(value: float) -> float | int:
    """A number as written in the plan: whole numbers without ``.0``."""
    return int(value) if value.is_integer() else value


@lru_cache(maxsize=1 << 16)  # plans repeat the same few sizes thousands of times
def _weeks(value: float) -> float | int:
    """Man-weeks as written in the plan: 2 decimals, whole numbers without ``.0``."""
    return _plain(round(value, 2))


@dataclass(slots=True)
class _Work:
    """One item, prepared once for every view it appears in."""

    track: str
    level: int  # index into TRIAGE_LEVELS
    estimate: dict[str, float]  # man-weeks per skill, duplicates summed
    effort: dict[str, float] | None  # scheduled skills only; None: no estimate
    head: dict[str, Any]  # the output fields every view shares
    lacking: dict[str, float | int]  # the shortage once every skill of it has run out


def _prepare(item: Item, scheduled: set[str] | None) -> _Work:
    """Merge the estimate and precompute what every view writes (``scheduled`` None: all)."""
    estimate = dict(item.estimate)
    if len(estimate) < len(item.estimate):  # a skill named twice: add its parts up
        estimate = {}
        for skill, weeks in item.estimate:
            estimate[skill] = estimate.get(skill, 0.0) + weeks
    if not item.estimate:
        effort = None
    elif scheduled is None:
        effort = estimate
    else:
        effort = {skill: weeks for skill, weeks in estimate.items() if skill in scheduled}
    level = _level_index(item.triage)
    written = {skill: _weeks(weeks) for skill, weeks in estimate.items()}
    head = {
        "id": item.id,
        "rank": _plain(item.rank),
        "name": item.name,
        "triage": _LEVEL_NUMBERS[level],
        "track": item.track,
        "estimate": written,
    }
    lacking = {skill: -weeks for skill, weeks in written.items() if weeks > 0}
    return _Work(item.track, level, estimate, effort, head, lacking)


@lru_cache(maxsize=1024)
def _level_index(triage: float) -> int:
    """The index in TRIAGE_LEVELS of the level ``triage`` falls in."""
    return TRIAGE_LEVELS.index(triage_level(triage))


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


@dataclass
class _Calendar:
    """The quarter's work days as every view uses them."""

    days: list[dt.date]
    iso: list[str]
    holidays: list[dt.date]  # sorted
    weeks: list[tuple[str, int, int]]  # (label, first day index, last day index + 1)


def _calendar(start: dt.date, days: list[dt.date], holidays: Iterable[dt.date]) -> _Calendar:
    """Index the work days: ISO texts, holidays, and the weeks they fall in.

    A week is labelled with its Monday, or with the quarter's first day when that is later.
    """
    weeks: list[tuple[str, int, int]] = []
    mondays: list[dt.date] = []
    for index, day in enumerate(days):
        monday = day - dt.timedelta(day.weekday())
        if mondays and mondays[-1] == monday:
            label, begin, _ = weeks[-1]
            weeks[-1] = (label, begin, index + 1)
        else:
            mondays.append(monday)
            weeks.append((max(monday, start).isoformat(), index, index + 1))
    return _Calendar(days, [d.isoformat() for d in days], sorted(set(holidays)), weeks)


def _view(
    works: list[_Work],
    people: list[Person],
    skills: list[str],
    scheduled: list[str],
    calendar: _Calendar,
    pooled: bool = False,
) -> dict[str, Any]:
    """The plan of one track (or All): manpower, demand, staff, work, load and leverage."""
    days, iso_days = calendar.days, calendar.iso
    staff: dict[str, list[str]] = {skill: [] for skill in skills}
    for person in people:
        staff[person.skill].append(person.name)
    capacity = people_per_skill(people, skills, days)
    manpower = {skill: sum(capacity[skill]) / DAYS_PER_WEEK for skill in skills}
    lanes = {s: capacity[s] for s in scheduled}
    planned = schedule(len(days), lanes, [work.effort for work in works])
    reasons = _Reasons(planned, lanes, {s: len(staff[s]) for s in scheduled}, calendar, pooled)
    # One walk in rank order sums the demand and finds the shortages (DOMAIN.md 2 and 4).
    per_level: list[dict[str, list[float]]] = [{s: [] for s in skills} for _ in TRIAGE_LEVELS]
    supply = {skill: weeks for skill, weeks in manpower.items() if weeks > EPSILON}
    work_list = []
    for work, end in zip(works, planned.ends, strict=True):
        demand = per_level[work.level]
        for skill, weeks in work.estimate.items():
            demand[skill].append(weeks)
        # A skill whose supply is gone stays gone (it only ever becomes -d), so an item
        # whose skills have all run out lacks its whole estimate: ``work.lacking``.
        gone = supply.keys().isdisjoint(work.estimate)
        short = work.lacking if gone else _short(work, supply)
        index = len(work_list)
        start = planned.starts[index]
        binding, why = reasons.why(index, work.effort)
        work_list.append(
            {
                **work.head,
                "shortage": short,
                "end": None if end is None else iso_days[end],
                "start": None if start is None else iso_days[start],
                "binding": binding,
                "why": why,
            }
        )
    return {
        "manpower": {skill: _weeks(weeks) for skill, weeks in manpower.items()},
        "demand": _cumulative(per_level, skills),
        "staff": staff,
        "work": work_list,
        "load": _load(planned, lanes, calendar),
        "leverage": _leverage(planned, lanes, works, len(days)),
    }


class _Reasons:
    """Why each item's date is what it is: its binding skill and what held that skill back."""

    def __init__(
        self,
        planned: Schedule,
        lanes: Mapping[str, Sequence[float]],
        heads: Mapping[str, int],
        calendar: _Calendar,
        pooled: bool,
    ) -> None:
        self.planned, self.heads, self.calendar, self.pooled = planned, heads, calendar, pooled
        # Prefix sums per skill: days fully booked (capacity, none left) and person-days away.
        self.booked: dict[str, list[int]] = {}
        self.away: dict[str, list[float]] = {}
        for skill, row in lanes.items():
            used = planned.used[skill]
            booked, away = [0], [0.0]
            for have, took in zip(row, used, strict=True):
                full = have > EPSILON and have - took <= EPSILON
                booked.append(booked[-1] + full)
                away.append(away[-1] + heads[skill] - have)
            self.booked[skill], self.away[skill] = booked, away

    def why(self, index: int, effort: Mapping[str, float] | None) -> tuple[str | None, dict]:
        """``(binding, why)`` of the item at ``index`` (see DOMAIN.md "What the plan also says")."""
        if effort is None:
            return None, {"kind": "no_estimate", "skill": None, "pooled": self.pooled}
        skill = self.planned.binding[index]
        if skill is None:
            return None, {"kind": "no_scheduled_effort", "skill": None, "pooled": self.pooled}
        done = self.planned.done[index]
        kind = "ran_out" if done[skill] < 0 else "finishes_last"
        last_day = len(self.calendar.days) - 1
        start = self.planned.starts[index]
        first = 0 if start is None else start
        last = done[skill] if done[skill] >= 0 else last_day
        booked = self.booked[skill][last + 1] - self.booked[skill][first]
        away = self.away[skill][last + 1] - self.away[skill][first]
        holidays = 0
        if self.calendar.days:
            since, until = self.calendar.days[first], self.calendar.days[last]
            lo = bisect.bisect_left(self.calendar.holidays, since)
            holidays = bisect.bisect_right(self.calendar.holidays, until) - lo
        return skill, {
            "kind": kind,
            "skill": skill,
            "people": self.heads.get(skill, 0),
            "booked_days": booked,
            "vacation_days": round(away),
            "holidays": holidays,
            "pooled": self.pooled,
        }


def _load(planned: Schedule, lanes: Mapping[str, Sequence[float]], calendar: _Calendar) -> dict:
    """Per scheduled skill and week: person-days available and used."""
    skills = {}
    for skill, row in lanes.items():
        used = planned.used[skill]
        skills[skill] = {
            "available": [_weeks(math.fsum(row[a:b])) for _, a, b in calendar.weeks],
            "used": [_weeks(math.fsum(used[a:b])) for _, a, b in calendar.weeks],
        }
    return {"weeks": [label for label, _, _ in calendar.weeks], "skills": skills}


def _leverage(
    planned: Schedule, lanes: Mapping[str, Sequence[float]], works: list[_Work], num_days: int
) -> list[dict[str, Any]]:
    """Per scheduled skill: one more person of it from the first day, and what that changes.

    A skill's days are its own in the greedy schedule, so only that skill's lane is planned
    again; each item's date is then the latest of its skills as before (DNF counts as the day
    after the quarter's end).
    """
    worked: dict[str, list[int]] = {skill: [] for skill in lanes}
    for index, done in enumerate(planned.done):
        for skill in done:
            worked[skill].append(index)
    out = []
    for skill, row in lanes.items():
        items = worked[skill]
        efforts = [works[index].effort[skill] for index in items]
        moved = lane(num_days, [have + 1.0 for have in row], efforts)
        dated = pulled = 0
        for index, now in zip(items, moved, strict=True):
            before = planned.ends[index]
            after = None if now < 0 else now
            for other, day in planned.done[index].items():
                if other == skill:
                    continue
                if day < 0:
                    after = None
                    break
                if after is not None and day > after:
                    after = day
            if before is None and after is not None:
                dated += 1
            pulled += (num_days if before is None else before) - (
                num_days if after is None else after
            )
        out.append({"skill": skill, "dnf_to_date": dated, "days_pulled_in": pulled})
    out.sort(key=lambda e: (-e["dnf_to_date"], -e["days_pulled_in"], e["skill"]))
    return out


@dataclass
class Layout:
    """What every plan of a model starts from: skills, work days, items and people per track."""

    skills: list[str]
    scheduled: list[str]
    calendar: _Calendar
    works: list[_Work]  # in rank order (ties keep input order)
    tracks: list[str]  # the data tracks, sorted (All not included)
    works_by_track: dict[str, list[_Work]]
    people_by_track: dict[str, list[Person]]


def layout(model: Model) -> Layout:
    """Sort and group ``model`` the way every plan of it (and every forecast run) needs it."""
    params = model.params
    skills = plan_skills(model)
    scheduled = list(params.scheduled) or skills
    days = work_days(params.start, params.end, model.holidays)
    wanted = None if set(scheduled) >= set(skills) else set(scheduled)
    works = [_prepare(item, wanted) for item in sorted(model.work, key=attrgetter("rank"))]
    tracks = sorted(
        ({p.track for p in model.staff} | {i.track for i in model.work}) - {ALL},
    )
    works_by_track: dict[str, list[_Work]] = {track: [] for track in tracks}
    for work in works:
        works_by_track.get(work.track, []).append(work)
    people_by_track: dict[str, list[Person]] = {track: [] for track in tracks}
    for person in model.staff:
        people_by_track.get(person.track, []).append(person)
    calendar = _calendar(params.start, days, model.holidays)
    return Layout(skills, scheduled, calendar, works, tracks, works_by_track, people_by_track)


def compute_plan(model: Model) -> dict[str, Any]:
    """The plan of ``model`` (without "problems" and "lineage", which the service adds)."""
    params = model.params
    lay = layout(model)
    skills, scheduled, calendar = lay.skills, lay.scheduled, lay.calendar
    by_track = {ALL: _view(lay.works, list(model.staff), skills, scheduled, calendar, pooled=True)}
    for track in lay.tracks:
        by_track[track] = _view(
            lay.works_by_track[track], lay.people_by_track[track], skills, scheduled, calendar
        )
    return {
        "params": {
            "start": params.start.isoformat(),
            "end": params.end.isoformat(),
            "num_weeks": _weeks(weekday_count(params.start, params.end) / DAYS_PER_WEEK),
            "scheduled_skills": scheduled,
            "holidays": [day.isoformat() for day in sorted(set(model.holidays))],
        },
        "skills": skills,
        "triages": list(_LEVEL_NUMBERS),
        "tracks": [ALL, *lay.tracks],
        "by_track": by_track,
    }


def plan_to_json(plan: Mapping[str, Any], pretty: bool = False) -> str:
    """The plan as JSON, keys sorted; ``pretty`` puts one key a line (for git diffs)."""
    if pretty:
        return json.dumps(plan, sort_keys=True, ensure_ascii=False, indent=1) + "\n"
    if orjson is not None:
        try:
            return orjson.dumps(plan, option=orjson.OPT_SORT_KEYS).decode("utf-8")
        except orjson.JSONEncodeError:
            pass  # e.g. a whole number beyond 64 bits: the standard encoder writes it
    return _compact_json(plan)


def _compact_json(plan: Mapping[str, Any]) -> str:
    """The compact form with the standard library (the same text orjson writes)."""
    # A plan is a tree (no cycles), so the encoder need not look for them.
    return json.dumps(
        plan, sort_keys=True, ensure_ascii=False, separators=(",", ":"), check_circular=False
    )
