"""The greedy list schedule (DOMAIN.md 5): the planner's hot path, and what it counts with.

Per skill it keeps a list of what each work day has left and a pointer to the first day
with anything left, since availability only falls: 20,000 items plan in a fraction of a
second. A skill's days are its own, so ``lane`` plans one skill alone (leverage, and the
forecast's runs, lean on that).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache

from formats.streams import Model, Person

__all__ = [
    "EPSILON",
    "DAYS_PER_WEEK",
    "Schedule",
    "schedule",
    "lane",
    "run_lane",
    "per_day_limit",
    "people_per_skill",
    "plan_skills",
    "work_days",
    "weekday_count",
    "plain",
    "weeks",
]

EPSILON = 1e-9  # person-days or man-weeks below this are float noise, not work
DAYS_PER_WEEK = 5


@dataclass
class Schedule:
    """Where each item starts and ends (work-day indexes; None: never / DNF), per skill too.

    Per item, over the scheduled skills it was worked on: ``top`` and ``second`` are the
    latest and second latest day a skill finished (-1: none), ``top_skill`` the skill of
    ``top``, ``out`` how many skills ran out (the binding skill is the first that ran out,
    else ``top_skill``). Per skill, ``lanes`` lists the items worked on in rank order, their
    man-weeks of it and the day each finished (-1: ran out). Leverage and "why" read these
    instead of looking at every item again.
    """

    ends: list[int | None]
    used: dict[str, list[float]]
    starts: list[int | None]  # the first day the item is given any person-day
    binding: list[str | None]  # the skill that finished last, or the first that ran out
    top: list[int]
    second: list[int]
    top_skill: list[str | None]
    out: list[int]
    lanes: dict[str, tuple[list[int], list[float], list[int]]]

    @classmethod
    def from_done(
        cls,
        ends: list[int | None],
        used: dict[str, list[float]],
        starts: list[int | None],
        binding: list[str | None],
        done: list[dict[str, int]],
    ) -> Schedule:
        """A schedule put together from each item's days per skill, as ``planning.lanes``
        does when it replans some lanes: only ``Reasons.why`` reads it then, so the
        per-item summaries and ``lanes`` stay empty."""
        made = cls(ends, used, starts, binding, [], [], [], [], {})
        made.done = done  # the cached property, given
        return made

    @cached_property
    def done(self) -> list[dict[str, int]]:
        """Per item, per scheduled skill worked on: the day it finished (-1: ran out), in the
        order of its effort. Made from ``lanes`` when first asked (the planner never asks;
        ``planning.lanes`` does, and may change it as it replans)."""
        per_item: list[dict[str, int]] = [{} for _ in self.ends]
        for skill, (items, _, days) in self.lanes.items():
            for index, day in zip(items, days, strict=True):
                per_item[index][skill] = day
        return per_item


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
    lanes: dict[str, tuple[list[int], list[float], list[int]]] = {
        skill: ([], [], []) for skill in capacity
    }
    count = len(efforts)
    ends: list[int | None] = [None] * count
    starts: list[int | None] = [None] * count
    binding: list[str | None] = [None] * count
    tops, seconds, outs = [-1] * count, [-1] * count, [0] * count
    top_skills: list[str | None] = [None] * count
    for index, effort in enumerate(efforts):
        if effort is None or num_days == 0:
            continue
        end: int | None = 0
        began = num_days
        last, latest, second, out, ran_out = None, -1, -1, None, 0
        for skill, weeks in effort.items():
            if weeks <= EPSILON:
                continue
            lane_items, lane_weeks, lane_done = lanes.get(skill) or lanes.setdefault(
                skill, ([], [], [])
            )
            lane_items.append(index)
            lane_weeks.append(weeks)
            start = first.get(skill, num_days)
            if start >= num_days:
                lane_done.append(-1)
                end = None  # no day has anything left: DNF
                ran_out += 1
                out = out or skill
                continue
            # The first open day is the first one the item takes from.
            if start < began:
                began = start
            days = left[skill]
            done = _take(days, start, weeks)
            lane_done.append(done)
            first[skill] = _first_open(days, start)
            if done < 0:
                end = None  # DNF, but the item's other skills are still worked on
                ran_out += 1
                out = out or skill
            elif done > latest:
                last, second, latest = skill, latest, done
                if end is not None:
                    end = done
            elif done > second:
                second = done
        ends[index] = end
        if began < num_days:
            starts[index] = began
        binding[index] = out or last
        tops[index], seconds[index], top_skills[index], outs[index] = latest, second, last, ran_out
    used = {
        skill: [cap - rest for cap, rest in zip(capacity[skill], days, strict=True)]
        for skill, days in left.items()
    }
    return Schedule(ends, used, starts, binding, tops, seconds, top_skills, outs, lanes)


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


def run_lane(
    days: list[float], first: int, efforts: Sequence[float], keep: int = 0, row: int = 0
) -> tuple[list[int], list[int], dict[int, tuple[list[float], int]]]:
    """Go on with one skill's lane alone, as ``schedule`` plans it: ``days`` holds what each
    work day has left (taken from in place), ``first`` is its first open day, ``efforts``
    the man-weeks (each above EPSILON) of its next items, the first of them the lane's row
    ``row``. Per item: the first open day before it (``len(days)``: none) and the day it is
    done (-1: it ran out); ``keep``: also the state before every ``keep``-th row (a copy of
    ``days``, the first open day), by row, to go on from later."""
    num_days = len(days)
    first = _first_open(days, first)  # (0 at a lane's start: its first day may have none)
    starts: list[int] = []
    done: list[int] = []
    kept: dict[int, tuple[list[float], int]] = {}
    for n, weeks in enumerate(efforts, start=row):
        if keep and n % keep == 0:
            kept[n] = (days.copy(), first)
        starts.append(first)
        if first >= num_days:
            done.append(-1)
            continue
        done.append(_take(days, first, weeks))
        first = _first_open(days, first)
    return starts, done, kept


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


def plain(value: float) -> float | int:
    """A number as written in the plan: whole numbers without ``.0``."""
    return int(value) if value.is_integer() else value


@lru_cache(maxsize=1 << 16)  # plans repeat the same few sizes thousands of times
def weeks(value: float) -> float | int:
    """Man-weeks as written in the plan: 2 decimals, whole numbers without ``.0``."""
    return plain(round(value, 2))
