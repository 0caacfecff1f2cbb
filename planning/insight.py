"""What the plan says beyond DOMAIN.md's figures: why each date, weekly load, leverage."""

from __future__ import annotations

import bisect
import datetime as dt
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from planning.schedule import EPSILON, Schedule, lane
from planning.schedule import weeks as _weeks

__all__ = ["Calendar", "calendar", "Reasons", "load", "leverage"]


@dataclass
class Calendar:
    """The quarter's work days as every view uses them."""

    days: list[dt.date]
    iso: list[str]
    holidays: list[dt.date]  # sorted
    weeks: list[tuple[str, int, int]]  # (label, first day index, last day index + 1)


def calendar(start: dt.date, days: list[dt.date], holidays: Iterable[dt.date]) -> Calendar:
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
    return Calendar(days, [d.isoformat() for d in days], sorted(set(holidays)), weeks)


class Reasons:
    """Why each item's date is what it is: its binding skill and what held that skill back."""

    def __init__(
        self,
        planned: Schedule,
        lanes: Mapping[str, Sequence[float]],
        heads: Mapping[str, int],
        calendar: Calendar,
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
        # Per work day, the holidays before it (work days are never holidays).
        self.holidays_before = [
            bisect.bisect_left(calendar.holidays, day) for day in calendar.days
        ] or [0]

    def each(self, efforts: Sequence[Mapping[str, float] | None]) -> Iterator[dict[str, Any]]:
        """The ``why`` of every item (DOMAIN.md "What the plan also says"), in rank order."""
        planned = self.planned
        for effort, skill, top, ran_out, start in zip(
            efforts, planned.binding, planned.top, planned.out, planned.starts, strict=True
        ):
            # The day the binding skill finished: the latest, unless one ran out.
            yield self._why(effort, skill, top if ran_out == 0 else -1, start)

    def why(self, index: int, effort: Mapping[str, float] | None) -> tuple[str | None, dict]:
        """``(binding, why)`` of the item at ``index``, read from ``Schedule.done`` (which
        ``planning.lanes`` changes as it replans an item)."""
        planned = self.planned
        skill = planned.binding[index]
        day = planned.done[index].get(skill, -1) if skill is not None else -1
        return (None if effort is None else skill), self._why(
            effort, skill, day, planned.starts[index]
        )

    def _why(
        self, effort: Mapping[str, float] | None, skill: str | None, day: int, start: int | None
    ) -> dict[str, Any]:
        """One item's ``why``: its binding ``skill`` finished on ``day`` (-1: ran out)."""
        pooled = self.pooled
        if effort is None:
            return {"kind": "no_estimate", "pooled": pooled, "skill": None}
        if skill is None:
            return {"kind": "no_scheduled_effort", "pooled": pooled, "skill": None}
        first = 0 if start is None else start
        last = day if day >= 0 else len(self.calendar.days) - 1
        booked, away, holidays = self.booked[skill], self.away[skill], self.holidays_before
        return {  # keys in sorted order, as the plan's JSON writes them
            "booked_days": booked[last + 1] - booked[first],
            "holidays": holidays[last] - holidays[first],
            "kind": "ran_out" if day < 0 else "finishes_last",
            "people": self.heads.get(skill, 0),
            "pooled": pooled,
            "skill": skill,
            "vacation_days": round(away[last + 1] - away[first]),
        }


def load(planned: Schedule, lanes: Mapping[str, Sequence[float]], calendar: Calendar) -> dict:
    """Per scheduled skill and week: person-days available and used."""
    skills = {}
    for skill in sorted(lanes):  # keys sorted, as the plan's JSON writes them
        row, used = lanes[skill], planned.used[skill]
        skills[skill] = {
            "available": [_weeks(math.fsum(row[a:b])) for _, a, b in calendar.weeks],
            "used": [_weeks(math.fsum(used[a:b])) for _, a, b in calendar.weeks],
        }
    return {"skills": skills, "weeks": [label for label, _, _ in calendar.weeks]}


def leverage(
    planned: Schedule, lanes: Mapping[str, Sequence[float]], num_days: int
) -> list[dict[str, Any]]:
    """Per scheduled skill: one more person of it from the first day, and what that changes.

    A skill's days are its own in the greedy schedule, so only that skill's lane is planned
    again; each item's date is then the latest of its skills as before (DNF counts as the day
    after the quarter's end), the items' other skills read from the schedule's per-item
    summaries.
    """
    top_skill, top, second, out_count = planned.top_skill, planned.top, planned.second, planned.out
    before = [num_days if end is None else end for end in planned.ends]
    out = []
    for skill, row in lanes.items():
        items, efforts, done = planned.lanes.get(skill, ((), (), ()))
        moved = lane(num_days, [have + 1.0 for have in row], efforts)
        dated = pulled = 0
        for index, now, own in zip(items, moved, done, strict=True):
            # The item's other skills: any that ran out, and the latest day one finished.
            if now < 0 or out_count[index] - (own < 0):
                after = num_days
            else:
                other = second[index] if top_skill[index] == skill else top[index]
                after = now if now > other else other
            was = before[index]
            if was == num_days and after < num_days:
                dated += 1
            pulled += was - after
        out.append({"days_pulled_in": pulled, "dnf_to_date": dated, "skill": skill})
    out.sort(key=lambda e: (-e["dnf_to_date"], -e["days_pulled_in"], e["skill"]))
    return out
