"""What the plan says beyond DOMAIN.md's figures: why each date, weekly load, leverage."""

from __future__ import annotations

import bisect
import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
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


def load(planned: Schedule, lanes: Mapping[str, Sequence[float]], calendar: Calendar) -> dict:
    """Per scheduled skill and week: person-days available and used."""
    skills = {}
    for skill, row in lanes.items():
        used = planned.used[skill]
        skills[skill] = {
            "available": [_weeks(math.fsum(row[a:b])) for _, a, b in calendar.weeks],
            "used": [_weeks(math.fsum(used[a:b])) for _, a, b in calendar.weeks],
        }
    return {"weeks": [label for label, _, _ in calendar.weeks], "skills": skills}


def leverage(
    planned: Schedule, lanes: Mapping[str, Sequence[float]], works: Sequence[Any], num_days: int
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
