"""The forecast: the planner's schedule run many times over estimates drawn around the sheet's.

The model (README "forecast_service"):

- Every scheduled estimate of every item is multiplied, in each run, by a
  factor ``exp(sigma * Z)``: log-normal with median 1, Z standard normal
  clipped to ±1.645, so that no estimate grows past its P95 (a team
  re-estimates before that) nor shrinks below its P5.
- ``sigma`` follows how the estimate was written (``formats.conditioned``
  ``estimates.json``): a plain number 0.2, a number with a unit 0.25, a T-shirt
  size 0.4; a range ``2-3w`` puts its low and high at the factor's P10 and
  P90 (``ln(high / low) / 2.563``). Every sigma is multiplied by ``spread``;
  ``spread = 0`` gives the deterministic plan exactly.
- Each item's factors come from a generator of their own, seeded by the
  forecast's seed (the conditioned commit), the item's id and the skill: they
  do not depend on the other items or the rank order, so an item keeps its
  draws when another is edited, moved, added or removed (``planning.draws``).
- The staff, vacations and holidays are as the sheet says; items are placed
  in rank order by DOMAIN.md's greedy schedule in every run, All pooling every
  track's people as in the plan.
- Per item: the work day by which 50, 85 and 95 % of the runs finish (null
  when that share does not finish in the quarter) and the share that does.

Runs are vectorised with numpy: each skill's days are its own in the schedule,
so each (item, skill) is one step over an array of runs × days.
"""

from __future__ import annotations

import dataclasses
import math
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from formats.streams import Model
from planning.draws import CLIP, SIGMA, factors_for
from planning.planner import ALL, DAYS_PER_WEEK, EPSILON, Layout, layout, people_per_skill

__all__ = [
    "forecast",
    "groups",
    "view_forecast",
    "document",
    "check",
    "same_objects",
    "ViewRuns",
    "LaneRuns",
]

QUANTILES = {"p50": 0.50, "p85": 0.85, "p95": 0.95}


SNAP_EVERY = 32  # lane rows between the states a what-if's forecast may resume from


@dataclass
class LaneRuns:
    """One skill's lane of a track in every run, and where a what-if may resume it."""

    works: list[Any]  # the lane's items (prepared), in rank order
    rows: np.ndarray  # their rows in the track
    weeks: np.ndarray  # their man-weeks in each run
    done: np.ndarray  # the day each run finishes each of them (-1: never)
    capacity: list[float]  # the skill's person-days per work day
    snaps: dict[int, tuple[np.ndarray, int]]  # lane row -> (what each day had left in each
    # run before it, the first open day): kept for a what-if's base only
    exhausted: int | None  # the lane row from which no day had anything left in any run


def _lane(
    capacity: list[float],
    weeks: np.ndarray,
    keep: bool = False,
    resume: LaneRuns | None = None,
    start: int = 0,
) -> tuple[np.ndarray, dict[int, tuple[np.ndarray, int]], int | None]:
    """One skill's schedule in every run: the day each item finishes in each run (-1: never).

    ``weeks`` holds the man-weeks of the lane's items (rows, in rank order) in each run
    (columns); the days have the same shape. ``keep``: also keep the state before every
    ``SNAP_EVERY``-th row. ``resume``: a lane whose rows before ``start`` (a kept state's
    row) are this one's: go on from its state there, the same steps on the same numbers.
    Also returns the kept states and the row from which no day had anything left (None:
    every row found some).
    """
    days = np.asarray(capacity, dtype=float)
    num_days = days.shape[0]
    runs = weeks.shape[1]
    needs = DAYS_PER_WEEK * weeks
    short = needs - EPSILON  # done once this much is given
    limits = np.where(weeks <= 2 + EPSILON, 1.0, np.floor(weeks / 2 + EPSILON))[:, :, None]
    done = np.full(weeks.shape, -1, dtype=np.int64)
    snaps: dict[int, tuple[np.ndarray, int]] = {}
    if resume is None:
        left, first = np.tile(days, (runs, 1)), 0
    else:
        state, first = resume.snaps[start]
        left = state.copy()
        done[:start] = resume.done[:start]
        snaps = {row: kept for row, kept in resume.snaps.items() if row < start}
    exhausted = None
    for row in range(start, weeks.shape[0]):
        if keep and row % SNAP_EVERY == 0:
            snaps[row] = (left.copy(), first)
        while first < num_days and left[:, first].max() <= EPSILON:
            first += 1
        if first >= num_days:
            exhausted = row
            break  # no day has anything left in any run: the rest never finish
        window = left[:, first:]
        can = np.where(window > EPSILON, np.minimum(window, limits[row]), 0.0)
        total = np.cumsum(can, axis=1)
        finished = total >= short[row][:, None]
        # ``total`` only grows along the days: a run that finishes has finished by the last
        done[row] = np.where(finished[:, -1], finished.argmax(axis=1) + first, -1)
        # what each day gives: what is still needed, at least 0, at most what it can
        window -= np.minimum(np.maximum(needs[row][:, None] - (total - can), 0.0), can)
    return done, snaps, exhausted


def _again(old: LaneRuns, works: list[Any], rows: list[int], parts, keep: bool) -> LaneRuns:
    """A lane of the same capacity as ``old`` whose items may differ from some row on: the
    rows before the first item that is not ``old``'s are ``old``'s, the rest run again from
    ``old``'s state there. ``parts(r)``: the man-weeks of the items from lane row r on."""
    first = 0
    for was, now in zip(old.works, works, strict=False):
        if was is not now:
            break
        first += 1
    if first == len(old.works) == len(works):
        return dataclasses.replace(old, works=works, rows=np.asarray(rows, dtype=np.int64))
    rest = parts(first)
    weeks = np.concatenate([old.weeks[:first], np.stack(rest)]) if rest else old.weeks[:first]
    if old.exhausted is not None and old.exhausted <= first:
        # no day had anything left before the first new item: nothing after it finishes
        done = np.full(weeks.shape, -1, dtype=np.int64)
        done[:first] = old.done[:first]
        snaps = {row: kept for row, kept in old.snaps.items() if row <= old.exhausted}
        exhausted = old.exhausted
    elif first == 0:
        done, snaps, exhausted = _lane(old.capacity, weeks, keep)
    else:  # from the last state kept at or before it (one was kept every SNAP_EVERY rows)
        start = min(first, len(old.works) - 1) // SNAP_EVERY * SNAP_EVERY
        done, snaps, exhausted = _lane(old.capacity, weeks, keep, old, start)
    at = np.asarray(rows, dtype=np.int64)
    return LaneRuns(works, at, weeks, done, old.capacity, snaps, exhausted)


@dataclass
class ViewRuns:
    """One track's runs, lane by lane, kept so that a what-if reuses the lanes it leaves alone
    (a skill's days are its own: its lane depends on its capacity and its items only)."""

    works: list[Any]  # the track's items (prepared), in rank order
    capacity: dict[str, list[float]]  # per scheduled skill, person-days per work day
    lanes: dict[str, LaneRuns]
    unplanned: np.ndarray  # the rows that never finish (no estimate, or no work day)
    ends: np.ndarray  # every run's end day of each row
    items: dict[str, Any] | None = None  # the track's forecast (``view_forecast``)
    remade: list[str] | None = None  # the items whose summary was made anew (None: all)


def _view(
    lay: Layout,
    works_at: list[int],
    people,
    factors: list[dict[str, np.ndarray]],
    runs: int,
    reuse: ViewRuns | None = None,
    keep: bool = False,
    in_place: bool = False,
    origins: list[int] | None = None,
) -> ViewRuns:
    """Every run's end day of each item of one track (rows follow ``works_at``; -1: DNF).

    ``reuse``: the runs of the same track with the same factors (a what-if's base): a lane
    with the same capacity and items is taken from it, one with the same capacity whose
    items differ from some row on runs again from there (``_again``). ``in_place``: the
    rows are ``reuse``'s items, some edited in place (prepared again, in the same row):
    only the lanes of their skills, old and new, are looked at; ``origins``: the rows
    are ``reuse``'s items in another order (a rank edited), each row's row in ``reuse``.
    ``keep``: keep the lanes' states for what-ifs to resume from.
    """
    days = lay.calendar.days
    capacity = people_per_skill(people, lay.scheduled, days)
    works = [lay.works[index] for index in works_at]
    lanes: dict[str, LaneRuns] = {}
    if reuse is not None and same_objects(reuse.works, works):
        works = reuse.works  # so that view_forecast sees them the same
        unplanned = reuse.unplanned
        for skill, old in reuse.lanes.items():
            lanes[skill] = _with_capacity(old, capacity[skill], keep)
    elif reuse is not None and in_place and days:
        # counted by the base's rows below (``origins``: the rows' rows in the base)
        if origins is None:
            pairs = enumerate(zip(reuse.works, works, strict=True))
            edited = [row for row, (was, now) in pairs if was is not now]
            now_at = None
        else:
            now_at = np.empty(len(origins), dtype=np.int64)  # base row -> its row now
            now_at[origins] = np.arange(len(origins), dtype=np.int64)
            pairs = enumerate(zip(works, origins, strict=True))
            edited = [was for row, (now, was) in pairs if now is not reuse.works[was]]
            now_list = now_at.tolist()
            works = [works[row] for row in now_list]  # in the base's rows
            works_at = [works_at[row] for row in now_list]
        idle = set(reuse.unplanned.tolist()).difference(edited)
        idle.update(was for was in edited if works[was].effort is None)
        unplanned = np.asarray(sorted(idle), dtype=np.int64)
        touched: set[str] = set()
        for was in edited:
            for work in (reuse.works[was], works[was]):
                touched.update(skill for skill, weeks in (work.effort or {}).items())
        for skill in lay.scheduled:
            old = reuse.lanes.get(skill)
            if skill not in touched:
                if old is not None:
                    lanes[skill] = _with_capacity(old, capacity[skill], keep)
                continue
            rows = set() if old is None else set(old.rows.tolist())
            rows.difference_update(edited)
            rows.update(was for was in edited if works[was].takes(skill))
            if rows:
                ordered = sorted(rows, key=None if now_at is None else now_list.__getitem__)
                at = [works_at[was] for was in ordered]
                lanes[skill] = _lane_runs(
                    skill, capacity[skill], ordered, [works[was] for was in ordered], at,
                    factors, keep, old,
                )  # fmt: skip
        if now_at is not None:  # the rows the view has now
            works = [works[was] for was in origins]
            unplanned = now_at[unplanned]
            lanes = {skill: _moved(lane, now_at) for skill, lane in lanes.items()}
    else:
        idle = []
        per: dict[str, tuple[list[int], list[Any], list[int]]] = {
            skill: ([], [], []) for skill in lay.scheduled
        }
        for row, index in enumerate(works_at):
            work = works[row]
            effort = work.effort
            if effort is None or not days:
                idle.append(row)
                continue
            for skill, weeks in effort.items():
                if weeks > EPSILON:
                    rows, lane_works, indexes = per[skill]
                    rows.append(row)
                    lane_works.append(work)
                    indexes.append(index)
        unplanned = np.asarray(idle, dtype=np.int64)
        for skill, (rows, lane_works, indexes) in per.items():
            if rows:
                old = reuse.lanes.get(skill) if reuse is not None else None
                lanes[skill] = _lane_runs(
                    skill, capacity[skill], rows, lane_works, indexes, factors, keep, old
                )
    ends = np.zeros((len(works_at), runs), dtype=np.int64)
    dnf = np.zeros((len(works_at), runs), dtype=bool)
    dnf[unplanned] = True
    for lane in lanes.values():
        dnf[lane.rows] |= lane.done < 0
        ends[lane.rows] = np.maximum(ends[lane.rows], lane.done)
    ends[dnf] = -1
    return ViewRuns(works, capacity, lanes, unplanned, ends)


def _moved(lane: LaneRuns, now_at: np.ndarray) -> LaneRuns:
    """``lane`` with its rows (the base's) put where they are now (``now_at``: per base row)."""
    return dataclasses.replace(lane, rows=now_at[lane.rows])


def _with_capacity(old: LaneRuns, capacity: list[float], keep: bool) -> LaneRuns:
    """``old``'s lane (the same items) with ``capacity``: itself when that is its own."""
    if old.capacity == capacity:
        return old
    done, snaps, exhausted = _lane(capacity, old.weeks, keep)
    return dataclasses.replace(old, done=done, capacity=capacity, snaps=snaps, exhausted=exhausted)


def _lane_runs(
    skill: str,
    capacity: list[float],
    rows: list[int],
    lane_works: list[Any],
    indexes: list[int],
    factors: list[dict[str, np.ndarray]],
    keep: bool,
    old: LaneRuns | None,
) -> LaneRuns:
    """One skill's lane in every run: its items' ``rows`` in the track, the items, their
    ``indexes`` in the layout (for ``factors``); from ``old`` (the base's lane) where its
    capacity is this one's (``_again``)."""

    def parts(first: int) -> list[np.ndarray]:
        pairs = zip(lane_works[first:], indexes[first:], strict=True)
        return [work.effort[skill] * factors[index][skill] for work, index in pairs]

    if old is not None and old.capacity == capacity:
        return _again(old, lane_works, rows, parts, keep)
    weeks = np.stack(parts(0))
    done, snaps, exhausted = _lane(capacity, weeks, keep)
    at = np.asarray(rows, dtype=np.int64)
    return LaneRuns(lane_works, at, weeks, done, capacity, snaps, exhausted)


def same_objects(a: Sequence[Any], b: Sequence[Any]) -> bool:
    """The same objects in the same order."""
    return a is b or (len(a) == len(b) and all(map(operator.is_, a, b)))


def _summaries(ends: np.ndarray, iso_days: list[str]) -> list[dict[str, Any]]:
    """P50/P85/P95 dates and the chance to finish of each item (a row of ``ends``: its end
    day in every run), computed for all the rows at once."""
    items, runs = ends.shape
    finished = ends >= 0
    ordered = np.sort(np.where(finished, ends, len(iso_days)), axis=1)
    columns = {
        key: ordered[:, max(0, math.ceil(share * runs) - 1)].tolist()
        for key, share in QUANTILES.items()
    }
    done = finished.sum(axis=1).tolist()  # whole counts: the share below is exact
    out = []
    for row in range(items):
        summary: dict[str, Any] = {}
        for key, days in columns.items():
            day = days[row]
            summary[key] = iso_days[day] if day < len(iso_days) else None
        summary["p_in_quarter"] = round(done[row] / runs, 4)
        out.append(summary)
    return out


def groups(lay: Layout, staff, tracks: set[str] | None = None) -> dict[str, tuple[list[int], list]]:
    """Per track (All first; ``tracks``: only those): the indexes in ``lay.works`` of its
    items, and its people."""
    out = {}
    if tracks is None or ALL in tracks:
        out[ALL] = (list(range(len(lay.works))), list(staff))
    wanted = [track for track in lay.tracks if tracks is None or track in tracks]
    if wanted:
        index_of = {id(work): n for n, work in enumerate(lay.works)}
        for track in wanted:
            at = [index_of[id(work)] for work in lay.works_by_track[track]]
            out[track] = (at, lay.people_by_track[track])
    return out


def view_forecast(
    lay: Layout,
    works_at: list[int],
    people,
    factors: list[dict[str, np.ndarray]],
    runs: int,
    reuse: ViewRuns | None = None,
    keep: bool = False,
    in_place: bool = False,
    origins: list[int] | None = None,
) -> ViewRuns:
    """The runs of one track with its forecast, ``items``: ``{item id: summary}``
    (``reuse``, ``keep``, ``in_place``, ``origins``: see ``_view``)."""
    made = _view(lay, works_at, people, factors, runs, reuse, keep, in_place, origins)
    iso = lay.calendar.iso
    if (
        reuse is not None
        and reuse.items is not None
        and len(reuse.items) == len(made.works) == len(reuse.works)  # each id once
        and (
            made.works is reuse.works
            or in_place
            or all(a.id == b.id for a, b in zip(made.works, reuse.works, strict=True))
        )
    ):  # the same items (in the same rows, or at ``origins``): a row whose runs end the
        # same has the same summary
        was = reuse.ends if origins is None else reuse.ends[np.asarray(origins, dtype=np.int64)]
        moved = np.flatnonzero((made.ends != was).any(axis=1)).tolist()
        items = dict(reuse.items)
        made.remade = [made.works[row].id for row in moved]
        for item, summary in zip(made.remade, _summaries(made.ends[moved], iso), strict=True):
            items[item] = summary
    else:
        summaries = _summaries(made.ends, iso)
        pairs = zip(made.works, summaries, strict=True)
        items = {work.id: summary for work, summary in pairs}
    made.items = items
    return made


def document(runs: int, spread: float, seed: int, by_track: dict[str, Any]) -> dict[str, Any]:
    """The forecast document around the tracks' forecasts (All first)."""
    return {
        "runs": runs,
        "spread": spread,
        "seed": f"{seed:016x}",
        "model": {"sigma": dict(SIGMA), "clip_z": round(CLIP, 4), "range": "low P10, high P90"},
        "tracks": list(by_track),
        "by_track": by_track,
    }


def check(runs: int, spread: float) -> None:
    """Raise ValueError for runs or a spread no forecast can use."""
    if runs < 1:
        raise ValueError("a forecast needs at least one run")
    if not math.isfinite(spread) or spread < 0:
        raise ValueError("spread must be a number from 0 up")


def forecast(
    model: Model,
    estimates: Mapping[str, Any] | None = None,
    runs: int = 1000,
    spread: float = 1.0,
    seed: int = 0,
) -> dict[str, Any]:
    """The forecast of ``model`` (without "lineage", which the service adds)."""
    check(runs, spread)
    lay = layout(model)
    factors = factors_for(lay, estimates, runs, spread, seed)
    by_track = {
        track: {"items": view_forecast(lay, works_at, people, factors, runs).items}
        for track, (works_at, people) in groups(lay, model.staff).items()
    }
    return document(runs, spread, seed, by_track)
