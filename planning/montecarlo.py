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
- The staff, vacations and holidays are as the sheet says; items are placed
  in rank order by DOMAIN.md's greedy schedule in every run, All pooling every
  track's people as in the plan.
- Per item: the work day by which 50, 85 and 95 % of the runs finish (null
  when that share does not finish in the quarter) and the share that does.

Runs are vectorised with numpy: each skill's days are its own in the schedule,
so each (item, skill) is one step over an array of runs × days.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from formats.streams import Model
from planning.planner import ALL, DAYS_PER_WEEK, EPSILON, Layout, layout, people_per_skill

__all__ = [
    "SIGMA",
    "CLIP",
    "forecast",
    "factors_for",
    "seed_from",
    "groups",
    "view_forecast",
    "document",
    "check",
    "ViewRuns",
]

SIGMA = {"number": 0.2, "unit": 0.25, "size": 0.4}  # log-normal spread by how it was written
P10_P90 = 2 * 1.2815515655446004  # z-distance between a normal's P10 and P90
CLIP = 1.6448536269514722  # z of P95: factors stay between their P5 and P95
QUANTILES = {"p50": 0.50, "p85": 0.85, "p95": 0.95}


def seed_from(text: str) -> int:
    """A 64-bit seed from a commit SHA (or any hex text; other text is hashed)."""
    try:
        return int(text[:16], 16)
    except ValueError:
        import hashlib

        return int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:16], 16)


def _sigma(written: Mapping[str, Any] | None, weeks: float) -> float:
    """The spread of one estimate's factor, from how the sheet wrote it."""
    if not written:
        return SIGMA["number"]
    kind = written.get("kind")
    if kind == "range":
        low, high = written.get("low"), written.get("high")
        if isinstance(low, int | float) and isinstance(high, int | float) and 0 < low < high:
            return math.log(high / low) / P10_P90
        return SIGMA["size"]
    return SIGMA.get(kind, SIGMA["number"])


def factors_for(
    lay: Layout, estimates: Mapping[str, Any] | None, runs: int, spread: float, seed: int
) -> list[dict[str, np.ndarray]]:
    """Per item (rank order), per scheduled skill: its factor in each run."""
    rng = np.random.default_rng(seed)
    items = (estimates or {}).get("items") or {}
    out = []
    for work in lay.works:
        factors: dict[str, np.ndarray] = {}
        written = (items.get(work.id) or {}).get("skills") or {}
        for skill, weeks in (work.effort or {}).items():
            z = rng.standard_normal(runs)
            sigma = _sigma(written.get(skill), weeks) * spread
            if sigma <= 0:
                factors[skill] = np.ones(runs)
            else:
                factors[skill] = np.exp(sigma * np.clip(z, -CLIP, CLIP))
        out.append(factors)
    return out


def _lane(capacity: np.ndarray, weeks: np.ndarray) -> np.ndarray:
    """One skill's schedule in every run: the day each item finishes in each run (-1: never).

    ``weeks`` holds the man-weeks of the lane's items (rows, in rank order) in each run
    (columns); the answer has the same shape.
    """
    num_days = capacity.shape[0]
    runs = weeks.shape[1]
    left = np.tile(capacity, (runs, 1))
    needs = DAYS_PER_WEEK * weeks
    short = needs - EPSILON  # done once this much is given
    limits = np.where(weeks <= 2 + EPSILON, 1.0, np.floor(weeks / 2 + EPSILON))[:, :, None]
    done = np.full(weeks.shape, -1, dtype=np.int64)
    first = 0
    for row in range(weeks.shape[0]):
        while first < num_days and left[:, first].max() <= EPSILON:
            first += 1
        if first >= num_days:
            break  # no day has anything left in any run: the rest never finish
        window = left[:, first:]
        can = np.where(window > EPSILON, np.minimum(window, limits[row]), 0.0)
        total = np.cumsum(can, axis=1)
        finished = total >= short[row][:, None]
        # ``total`` only grows along the days: a run that finishes has finished by the last
        done[row] = np.where(finished[:, -1], finished.argmax(axis=1) + first, -1)
        # what each day gives: what is still needed, at least 0, at most what it can
        window -= np.minimum(np.maximum(needs[row][:, None] - (total - can), 0.0), can)
    return done


@dataclass
class ViewRuns:
    """One track's runs, lane by lane, kept so that a what-if reuses the lanes it leaves alone
    (a skill's days are its own: its lane depends on its capacity and its items only)."""

    works: list[Any]  # the track's items (prepared), in rank order
    capacity: dict[str, list[float]]  # per scheduled skill, person-days per work day
    lanes: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]  # skill -> (rows, their
    # man-weeks in each run, the day each run finishes them)
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
) -> ViewRuns:
    """Every run's end day of each item of one track (rows follow ``works_at``; -1: DNF).

    ``reuse``: the runs of the same track with the same factors (a what-if's base): when
    its items are the same, a lane whose capacity is the same is taken from it.
    """
    days = lay.calendar.days
    capacity = people_per_skill(people, lay.scheduled, days)
    works = [lay.works[index] for index in works_at]
    lanes: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    if reuse is not None and _same(reuse.works, works):
        works = reuse.works  # so that view_forecast sees them the same
        unplanned = reuse.unplanned
        for skill, (at, weeks, done) in reuse.lanes.items():
            if reuse.capacity.get(skill) != capacity.get(skill):
                done = _lane(np.asarray(capacity[skill], dtype=float), weeks)
            lanes[skill] = (at, weeks, done)
    else:
        idle = []
        needs: dict[str, tuple[list[int], list[np.ndarray]]] = {s: ([], []) for s in lay.scheduled}
        for row, index in enumerate(works_at):
            effort = works[row].effort
            if effort is None or not days:
                idle.append(row)
                continue
            for skill, weeks in effort.items():
                if weeks > EPSILON:
                    rows, parts = needs[skill]
                    rows.append(row)
                    parts.append(weeks * factors[index][skill])
        unplanned = np.asarray(idle, dtype=np.int64)
        for skill, (rows, parts) in needs.items():
            if rows:
                weeks = np.stack(parts)
                done = _lane(np.asarray(capacity[skill], dtype=float), weeks)
                lanes[skill] = (np.asarray(rows, dtype=np.int64), weeks, done)
    ends = np.zeros((len(works_at), runs), dtype=np.int64)
    dnf = np.zeros((len(works_at), runs), dtype=bool)
    dnf[unplanned] = True
    for at, _, day in lanes.values():
        dnf[at] |= day < 0
        ends[at] = np.maximum(ends[at], day)
    ends[dnf] = -1
    return ViewRuns(works, capacity, lanes, unplanned, ends)


def _same(a: list[Any], b: list[Any]) -> bool:
    """The same objects in the same order."""
    return len(a) == len(b) and all(map(operator.is_, a, b))


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


def groups(lay: Layout, staff) -> dict[str, tuple[list[int], list]]:
    """Per track (All first): the indexes in ``lay.works`` of its items, and its people."""
    index_of = {id(work): n for n, work in enumerate(lay.works)}
    out = {ALL: (list(range(len(lay.works))), list(staff))}
    for track in lay.tracks:
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
) -> ViewRuns:
    """The runs of one track with its forecast, ``items``: ``{item id: summary}``."""
    made = _view(lay, works_at, people, factors, runs, reuse)
    iso = lay.calendar.iso
    if (
        reuse is not None
        and made.works is reuse.works
        and reuse.items is not None
        and len(reuse.items) == len(made.works)  # no id twice: each row is its own entry
    ):
        moved = np.flatnonzero((made.ends != reuse.ends).any(axis=1)).tolist()
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
