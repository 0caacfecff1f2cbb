"""One scheduled skill's lane alone: its schedule, the states kept to go on from, what one
more person of it gives, and how an item's lanes make its dates (``planning.lanes``).

In the greedy schedule (DOMAIN.md 5) a skill's days are its own: its lane depends only
on its person-days and on its items, in rank order. So a lane can be scheduled alone,
and again from the state before any of its rows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from planning.schedule import EPSILON, Schedule, run_lane

__all__ = ["SNAP_EVERY", "SkillLane", "schedule_lane", "count_gains", "leverage_of", "combine"]

SNAP_EVERY = 32  # lane rows between the states kept for a what-if to go on from


@dataclass
class SkillLane:
    """One scheduled skill's schedule alone: per item that works in it, where and when."""

    capacity: list[float]
    heads: int
    starts: dict[int, int | None]  # item index -> the lane's first open day (None: none)
    done: dict[int, int]  # item index -> the day it is done in this lane (-1: ran out)
    used: list[float]
    plus_one: dict[int, int] | None  # with one more person (leverage); None: no work day
    # lane row -> the state before it, of the lane and of the lane with one more person
    # (what each day has left, the first open day): kept for a base's what-ifs
    snaps: dict[int, tuple[tuple[list[float], int], tuple[list[float], int]]] = dataclasses.field(
        default_factory=dict
    )
    gains: dict[int, tuple[int, int]] = dataclasses.field(default_factory=dict)
    dated: int = 0  # the sums of ``gains``: DNF items one more person dates,
    pulled: int = 0  # and the work days it pulls in over all items


def schedule_lane(
    num_days: int,
    skill: str,
    capacity: list[float],
    heads: int,
    works,
    at: list[int] | None,
    old: SkillLane | None = None,
    edited: set[int] | frozenset[int] = frozenset(),
    keep: bool = False,
) -> SkillLane:
    """Schedule one skill alone (the items that do not work in it do not touch its days);
    ``at``: the items that do (None: found here). ``old``: the base's lane of the skill,
    of the same capacity, whose items before the first that differs (or is ``edited``)
    are this one's: it goes on from the state ``old`` kept there. ``keep``: keep states
    to go on from."""
    if at is None:
        at = [n for n, work in enumerate(works) if work.takes(skill)]
    efforts = [works[n].effort[skill] for n in at]
    days, more = list(capacity), [have + 1.0 for have in capacity]
    first = first_more = row = 0
    starts: list[int] = []
    done: list[int] = []
    plus: list[int] = []
    if old is not None and old.snaps:
        was = list(old.done)
        limit = min(len(at), len(was))
        while row < limit and at[row] == was[row] and at[row] not in edited:
            row += 1
        row = min(row, len(was) - 1) // SNAP_EVERY * SNAP_EVERY  # (kept before a row only)
        (days, first), (more, first_more) = old.snaps[row]
        days, more = list(days), list(more)
        starts = [num_days if day is None else day for day in old.starts.values()][:row]
        done = list(old.done.values())[:row]
        plus = list((old.plus_one or {}).values())[:row]
    every = SNAP_EVERY if keep else 0
    began, ended, snaps = run_lane(days, first, efforts[row:], every, row)
    starts += began
    done += ended
    plus_one = None
    if num_days:  # without a work day nothing is worked on: no leverage
        _, ended, plus_snaps = run_lane(more, first_more, efforts[row:], every, row)
        plus_one = dict(zip(at, plus + ended, strict=True))
        snaps = {n: (state, plus_snaps[n]) for n, state in snaps.items()}
    return SkillLane(
        capacity,
        heads,
        {n: None if day >= num_days else day for n, day in zip(at, starts, strict=True)},
        dict(zip(at, done, strict=True)),
        [cap - left for cap, left in zip(capacity, days, strict=True)],
        plus_one,
        snaps=snaps if num_days else {},
    )


def count_gains(
    one: SkillLane, skill: str, planned: Schedule, num_days: int, items: Iterable[int]
) -> None:
    """Count again, in ``one.gains`` and its sums, what one more person of ``skill`` gives
    each of ``items``: (1 if it dates a DNF item, the work days it pulls the item in)."""
    if one.plus_one is None:
        return
    gains = one.gains
    for n in items:
        now = one.plus_one[n]
        before = planned.ends[n]
        after = None if now < 0 else now
        for other, day in planned.done[n].items():
            if other == skill:
                continue
            if day < 0:
                after = None
                break
            if after is not None and day > after:
                after = day
        dated = 1 if before is None and after is not None else 0
        pulled = (num_days if before is None else before) - (num_days if after is None else after)
        was = gains.get(n)
        if was is not None:
            one.dated -= was[0]
            one.pulled -= was[1]
        gains[n] = (dated, pulled)
        one.dated += dated
        one.pulled += pulled


def leverage_of(lanes: dict[str, SkillLane]) -> list[dict[str, Any]]:
    """Per scheduled skill, what one more person gives, top first (as ``insight.leverage``
    counts)."""
    out = []
    for skill, one in lanes.items():
        out.append({"skill": skill, "dnf_to_date": one.dated, "days_pulled_in": one.pulled})
    out.sort(key=lambda e: (-e["dnf_to_date"], -e["days_pulled_in"], e["skill"]))
    return out


def combine(effort, lanes: dict[str, SkillLane], n: int, num_days: int) -> tuple:
    """(end, start, done per skill, binding) of item ``n`` from its skills' lanes, as
    ``schedule.schedule`` makes them (its skills in its effort's order)."""
    skills_done: dict[str, int] = {}
    if effort is None or num_days == 0:
        return None, None, skills_done, None
    end: int | None = 0
    began = num_days
    last, latest, out = None, -1, None
    for skill, weeks in effort.items():
        if weeks <= EPSILON:
            continue
        one = lanes[skill]
        start = one.starts[n]
        if start is None:  # no day had anything left
            end = None
            skills_done[skill] = -1
            out = out or skill
            continue
        began = start if start < began else began
        done = one.done[n]
        skills_done[skill] = done
        if done < 0:
            end = None
            out = out or skill
        else:
            if done > latest:
                last, latest = skill, done
            if end is not None and done > end:
                end = done
    return end, (began if began < num_days else None), skills_done, out or last
