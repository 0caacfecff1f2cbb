"""One view of a what-if replanned lane by lane from its base view.

A view (``planner._view``: All, or one track) is its items' rows plus per-view figures.
In the greedy schedule a skill's days are its own (``planning.skill_lane``), so when a
what-if keeps a view's items — its people changed (``add_people``, ``remove_person``,
the usual question), or some items were edited (an estimate, a triage, a rank: the
same items, maybe in another order) — only the *moved lanes* are scheduled again: the
skills whose person-days or head count changed, from their first day, and the skills
of edited items, from the state the base kept before the first row that differs
(every ``SNAP_EVERY`` rows; an edit at rank r changes nothing ranked above r). An
item's row depends only on its own skills' lanes and on the shortage walks (DOMAIN.md
4, one per skill too) of its estimate's skills, so only the rows of items working in
a moved lane, or sized in a skill whose manpower or items changed, are looked at
again; a row that comes out the same is the base row itself, and one that does not
comes with its patch against the base row (``planning.delta``). Leverage (one more
person per skill) is kept per lane and item, and redone for moved items only.

Everything is counted by the base's rows and put in the view's order at the end. The
combination of lanes into an item's end, start and binding skill is the one of
``schedule.schedule``; a row is made as ``planner._view`` makes it, its reason by
``insight.Reasons``; leverage counts as ``insight.leverage`` does. ``tests/test_replan.py``
checks that the result equals ``compute_plan`` of the scenario on random models and edits.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from formats.streams import TRIAGE_LEVELS, Person
from planning.delta import Rows, row_patch
from planning.insight import Calendar, Reasons, load
from planning.planner import (
    DAYS_PER_WEEK,
    EPSILON,
    LEVEL_KEYS,
    Schedule,
    item_fields,
    people_per_skill,
    schedule,
)
from planning.schedule import weeks as _weeks
from planning.skill_lane import (
    SkillLane,
    combine,
    count_gains,
    leverage_of,
    schedule_lane,
)

__all__ = ["BaseView", "base_view", "replan_view"]


@dataclass
class BaseView:
    """What a base view was made from, kept to replan it lane by lane."""

    works: list[Any]  # its items (prepared), rank order
    manpower: dict[str, float]
    lanes: dict[str, SkillLane]  # every scheduled skill
    planned: Schedule
    view: dict[str, Any]  # the base view itself (its rows follow ``works``)
    by_skill: dict[str, list[int]]  # skill -> the items whose estimate has it
    short: dict[str, dict[int, float | int]]  # skill -> item -> its shortage there
    bound: dict[str | None, list[int]]  # binding skill -> its items
    skills: set[str]  # the skills of the items' estimates
    unique: bool  # no item id twice among its rows
    row_of: dict[str, int]  # item id -> its row (when unique)


MADE = ("binding", "end", "shortage", "start", "why")  # a row's fields the schedule decides
OWN = ("estimate", "id", "name", "rank", "track", "triage")  # and its item (item_fields)
ROW_KEYS = tuple(sorted((*MADE, *OWN)))  # a row's keys, in the order the planner writes them


def _figures(people: Sequence[Person], skills: list[str], days) -> tuple[dict, dict, dict]:
    """Staff names, person-days and manpower per skill, as ``planner._view`` counts them."""
    staff: dict[str, list[str]] = {skill: [] for skill in skills}
    for person in people:
        staff[person.skill].append(person.name)
    capacity = people_per_skill(people, skills, days)
    manpower = {skill: sum(capacity[skill]) / DAYS_PER_WEEK for skill in skills}
    return staff, capacity, manpower


def base_view(
    works: list[Any],
    people: Sequence[Person],
    skills: list[str],
    scheduled: list[str],
    calendar: Calendar,
    view: dict[str, Any],
) -> BaseView:
    """Keep what ``replan_view`` needs of one base view (``view``: the planner's)."""
    num_days = len(calendar.days)
    staff, capacity, manpower = _figures(people, skills, calendar.days)
    lanes = {
        skill: schedule_lane(
            num_days, skill, capacity[skill], len(staff[skill]), works, None, keep=True
        )
        for skill in scheduled
    }
    planned = schedule(num_days, {s: capacity[s] for s in scheduled}, [w.effort for w in works])
    for skill, one in lanes.items():
        count_gains(one, skill, planned, num_days, one.done)
    by_skill: dict[str, list[int]] = {skill: [] for skill in skills}
    short: dict[str, dict[int, float | int]] = {skill: {} for skill in skills}
    bound: dict[str | None, list[int]] = {}
    for n, (work, row) in enumerate(zip(works, view["work"], strict=True)):
        for skill in work.estimate:
            by_skill[skill].append(n)
        for skill, weeks in row["shortage"].items():
            short[skill][n] = weeks
        bound.setdefault(planned.binding[n], []).append(n)
    known = {skill for skill, items in by_skill.items() if items}
    row_of = {row["id"]: n for n, row in enumerate(view["work"])}
    unique = len(row_of) == len(view["work"])
    return BaseView(
        works, manpower, lanes, planned, view, by_skill, short, bound, known, unique, row_of
    )


def _shortages(works, items: list[int], skill: str, manpower: float) -> dict[int, float | int]:
    """One skill's shortage walk (DOMAIN.md 4) alone over ``items`` (the indexes, in rank
    order, of the ``works`` whose estimate has the skill): item index -> its shortage."""
    have = manpower if manpower > EPSILON else None
    short: dict[int, float | int] = {}
    for n in items:
        need = works[n].estimate[skill]
        if have is None:
            left = -need
        else:
            left = have - need
            have = left if left > EPSILON else None
        if left < -EPSILON and _weeks(left) < 0:
            short[n] = _weeks(left)
    return short


def _demand(
    base: BaseView, works, by_skill: dict[str, list[int]], skills: set[str]
) -> dict[str, Any]:
    """The view's cumulative demand (DOMAIN.md 2) with ``skills``' figures counted again."""
    demand = {key: dict(level) for key, level in base.view["demand"].items()}
    for skill in skills:
        per_level: list[list[float]] = [[] for _ in TRIAGE_LEVELS]
        for n in by_skill[skill]:
            per_level[works[n].level].append(works[n].estimate[skill])
        running: list[float] = []
        for key, parts in zip(LEVEL_KEYS, per_level, strict=True):
            running += parts
            demand[key][skill] = _weeks(math.fsum(running))  # exact whatever the order
    return demand


def _by_base_row(
    base_works: list[Any], works: list[Any], origins: list[int]
) -> tuple[list[Any], list[int], Any, set[int]]:
    """The view's items counted by the base's rows (``origins``: each row's row in the base,
    -1 for an item that joined the view), as ``replan_view`` counts them: the base's rows
    first (an item that left the view stays as one without estimate, which no lane nor walk
    counts), then the rows that joined. Also each row's count, the view's row of each
    count, and the base rows whose item left."""
    by_base = list(base_works)
    counts = []
    for work, was in zip(works, origins, strict=True):
        if was < 0:
            was = len(by_base)
            by_base.append(work)
        else:
            by_base[was] = work
        counts.append(was)
    position = [-1] * len(by_base)
    for row, was in enumerate(counts):
        position[was] = row
    gone = {n for n in range(len(base_works)) if position[n] < 0}
    for n in gone:
        by_base[n] = dataclasses.replace(base_works[n], effort=None, estimate={})
    return by_base, counts, position.__getitem__, gone


def replan_view(
    base: BaseView,
    people: Sequence[Person],
    skills: list[str],
    scheduled: list[str],
    calendar: Calendar,
    pooled: bool,
    works: list[Any] | None = None,
    origins: list[int] | None = None,
) -> tuple[dict[str, Any], Rows]:
    """The view of ``base``'s items with ``people`` (equal to ``planner._view``'s), and the
    positions of its rows that are not the base's rows themselves (in order), each with
    its patch against the base row (``planning.delta.Rows``).

    ``works``: the view's items when some were edited (prepared again: an estimate, a
    triage, a track, a rank): the lanes and shortage walks of their skills, old and new,
    are made again (from the first row that differs), and the demand of those skills.
    ``origins``: when the rows are the base's in another order (a rank edited), each row's
    row in the base, -1 for an item that joined the view (its track edited); base rows
    not named left it. Everything below is counted by the base's rows (``_by_base_row``),
    and put in the view's order at the end; a lane's items, and a skill's shortage walk,
    are put in the view's order (only those of the edited items' skills can differ from
    the base's).
    """
    days = calendar.days
    num_days = len(days)
    staff, capacity, manpower = _figures(people, skills, days)
    heads = {skill: len(staff[skill]) for skill in scheduled}
    edited: list[int] = []
    ranked = None  # base row -> its row in the view (None: the same)
    counted = len(base.works)  # rows counted below: the base's, then those that joined
    gone: set[int] = set()  # base rows whose item left the view
    if origins is not None and works is not None:
        works, origins, ranked, gone = _by_base_row(base.works, works, origins)
    if works is None or works is base.works:
        works = base.works
    else:
        edited = [n for n in range(counted) if works[n] is not base.works[n]]
        edited += range(counted, len(works))
    edited_rows = set(edited)
    touched: set[str] = set()  # the skills of the edited items, before and after
    sized: set[str] = set()
    for n in edited:
        for work in (base.works[n] if n < counted else None, works[n]):
            if work is None:
                continue
            touched.update(skill for skill, weeks in (work.effort or {}).items() if weeks > EPSILON)
            sized.update(work.estimate)
    lanes = dict(base.lanes)
    moved = set()
    for skill in scheduled:
        old = base.lanes[skill]
        if skill in touched:  # its items are the base's, less or more the edited ones
            at = set(old.done).difference(edited)
            at.update(n for n in edited if works[n].takes(skill))
            same = old.heads == heads[skill] and old.capacity == capacity[skill]
            lanes[skill] = schedule_lane(
                num_days, skill, capacity[skill], heads[skill], works, sorted(at, key=ranked),
                old if same else None, edited_rows,
            )  # fmt: skip
            moved.add(skill)
        elif old.heads != heads[skill] or old.capacity != capacity[skill]:
            at = list(old.done)
            lanes[skill] = schedule_lane(num_days, skill, capacity[skill], heads[skill], works, at)
            moved.add(skill)
    old_plan = base.planned
    joined = len(works) - counted
    planned = Schedule.from_done(
        [*old_plan.ends, *[None] * joined],
        {skill: lanes[skill].used for skill in scheduled},
        [*old_plan.starts, *[None] * joined],
        [*old_plan.binding, *[None] * joined],
        [*old_plan.done, *({} for _ in range(joined))],
    )
    # Items whose place in a moved lane moved: their schedule is combined again.
    dated: list[int] = []
    shifted: set[int] = set(edited)
    missing = (None, None)
    for skill in moved:
        new, old = lanes[skill], base.lanes[skill]
        starts, done = old.starts, old.done
        shifted.update(
            n
            for n, day in new.done.items()
            if (done.get(n), starts.get(n, missing)) != (day, new.starts[n])
        )
        shifted.update(n for n in done if n not in new.done)
    for n in sorted(shifted):
        end, start, done, binding = combine(works[n].effort, lanes, n, num_days)
        if (end, start, binding, done) != (
            planned.ends[n],  # (the base's until set here)
            planned.starts[n],
            planned.binding[n],
            planned.done[n],
        ):
            planned.ends[n], planned.starts[n] = end, start
            planned.done[n], planned.binding[n] = done, binding
            dated.append(n)
    # Rows to make again: edited items, moved schedules, reasons of a moved lane, moved
    # shortages.
    fresh = set(edited)
    remake = set(dated) | fresh
    for skill in moved:  # a reason reads its lane's days and people
        new, old = lanes[skill], base.lanes[skill]
        if (new.used, new.heads, new.capacity) != (old.used, old.heads, old.capacity):
            remake.update(base.bound.get(skill, ()))
    by_skill = base.by_skill
    if edited:
        by_skill = dict(by_skill)
        for skill in sized:
            items = set(by_skill.get(skill, ()))
            items.difference_update(edited)
            items.update(n for n in edited if skill in works[n].estimate)
            by_skill[skill] = sorted(items, key=ranked)
    short_moved = {skill for skill in base.skills if manpower[skill] != base.manpower[skill]}
    short_moved |= sized
    shortages = {}
    for skill in short_moved:
        shortages[skill] = now = _shortages(works, by_skill[skill], skill, manpower[skill])
        was = base.short.get(skill, {})
        remake.update(n for n in now.keys() | was.keys() if now.get(n) != was.get(n))
    rows = list(base.view["work"])
    rows += [dict.fromkeys(ROW_KEYS) for _ in range(joined)]  # (made below: fresh)
    changed: dict[int, dict[str, Any]] = {}  # the rows that are not the base's: their patch
    remake.difference_update(gone)
    if remake:
        reasons = Reasons(planned, {s: capacity[s] for s in scheduled}, heads, calendar, pooled)
        iso = calendar.iso
        for n in sorted(remake):
            work = works[n]
            short = rows[n]["shortage"]
            if n in fresh or not short_moved.isdisjoint(work.estimate):
                short = {}  # in the estimate's order, as the planner writes it
                for skill in work.estimate:
                    found = (shortages[skill] if skill in shortages else base.short[skill]).get(n)
                    if found is not None:
                        short[skill] = found
            end, start = planned.ends[n], planned.starts[n]
            binding, why = reasons.why(n, work.effort)
            made = {**rows[n]}  # the base row: its item's own fields as the planner wrote them
            if n in fresh:  # ... unless the item was edited
                made.update(item_fields(work))
            made.update(
                shortage=short,
                end=None if end is None else iso[end],
                start=None if start is None else iso[start],
                binding=binding,
                why=why,
            )
            patch = row_patch(rows[n], made, (*MADE, *OWN) if n in fresh else MADE)
            if patch:
                rows[n] = made
                changed[n] = patch
    for skill in scheduled:  # leverage: items whose lane with one more person or whose
        one = lanes[skill]  # schedule moved
        if skill in moved:
            old = base.lanes[skill]
            if old.plus_one is None or one.plus_one is None:
                count_gains(one, skill, planned, num_days, one.done)
                continue
            one.gains, one.dated, one.pulled = dict(old.gains), old.dated, old.pulled
            for n in set(old.done).difference(one.done):  # items that left the lane
                dated_n, pulled_n = one.gains.pop(n)
                one.dated -= dated_n
                one.pulled -= pulled_n
            again = [n for n, day in one.plus_one.items() if old.plus_one.get(n) != day]
            again += [n for n in dated if n in one.done]
            count_gains(one, skill, planned, num_days, again)
        else:
            hit = [n for n in dated if n in one.done]
            if hit:
                one = lanes[skill] = dataclasses.replace(one, gains=dict(one.gains))
                count_gains(one, skill, planned, num_days, hit)
    if origins is not None:  # in the view's order
        rows = [rows[was] for was in origins]
        changed = {ranked(n): changed[n] for n in sorted(changed, key=ranked)}
    view = {
        "manpower": {skill: _weeks(weeks) for skill, weeks in manpower.items()},
        "demand": _demand(base, works, by_skill, sized) if sized else base.view["demand"],
        "staff": staff,
        "work": rows,
        "load": load(planned, {s: capacity[s] for s in scheduled}, calendar),
        "leverage": leverage_of(lanes),
    }
    return view, changed
