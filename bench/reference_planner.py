"""The straightforward planner: DOMAIN.md's algorithm transliterated day by day.

It is the benchmark's baseline and the tests' oracle for the optimised
``planning.planner``: no pointers, no shortcuts, one dict of
availability per skill keyed by date, every track computed from scratch.
Its output follows the same conventions as the optimised planner (numbers
rounded to 2 decimals and written without ``.0`` when whole, a shortage that
rounds to 0.00 left out, a day with less than ``EPSILON`` left counted as
empty) so that the two plans can be compared as JSON.

It computes DOMAIN.md's figures only: ``domain_fields`` strips what the
optimised planner adds beyond them (start, binding, why, load, leverage,
the holidays in params) so the two can be compared.

Run it as a filter: ``python bench/reference_planner.py < streams.txt > plan.json``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from formats.streams import (
    TRIAGE_LEVELS,
    Model,
    StreamsError,
    parse_streams,
    triage_level,
)

__all__ = ["reference_plan", "main"]

EPSILON = 1e-9


def _number(value: float) -> float | int:
    value = round(value, 2)
    return int(value) if value == int(value) else value


def _quarter(model: Model) -> list[dt.date]:
    p = model.params
    return [p.start + dt.timedelta(n) for n in range((p.end - p.start).days + 1)]


def _merged(estimate) -> dict[str, float]:
    out: dict[str, float] = {}
    for skill, weeks in estimate:
        out[skill] = out.get(skill, 0.0) + weeks
    return out


def _shortages(items, manpower) -> list[dict[str, Any]]:
    supply = dict(manpower)
    result = []
    for item in items:
        short = {}
        for skill, d in _merged(item.estimate).items():
            have = supply.get(skill, 0.0)
            supply[skill] = have - d if have > EPSILON else -d
            if supply[skill] < -EPSILON and _number(supply[skill]) < 0:
                short[skill] = _number(supply[skill])
        result.append(short)
    return result


def _dates(items, people, scheduled, workdays) -> list[str | None]:
    available = {
        skill: {
            day: sum(1 for p in people if p.skill == skill and day not in p.vacation)
            for day in workdays
        }
        for skill in scheduled
    }
    result = []
    for item in items:
        if not item.estimate or not workdays:
            result.append(None)
            continue
        finished = [workdays[0]]
        dnf = False
        for skill, e in _merged(item.estimate).items():
            if skill not in scheduled or e <= EPSILON:
                continue
            per_day = 1 if e <= 2 + EPSILON else math.floor(e / 2 + EPSILON)
            need = 5 * e
            done = None
            for day in workdays:
                left = available[skill][day]
                if left <= EPSILON:
                    continue
                take = min(left, per_day, need)
                available[skill][day] = left - take
                need -= take
                if need <= EPSILON:
                    done = day
                    break
            if done is None:
                dnf = True
            else:
                finished.append(done)
        result.append(None if dnf else max(finished).isoformat())
    return result


def _track(model, track, skills, scheduled, workdays) -> dict[str, Any]:
    people = [p for p in model.staff if track == "All" or p.track == track]
    items = sorted(
        (i for i in model.work if track == "All" or i.track == track), key=lambda i: i.rank
    )
    manpower = {}
    for skill in skills:
        days = sum(
            1 for p in people if p.skill == skill for day in workdays if day not in p.vacation
        )
        manpower[skill] = days / 5
    demand = {}
    for level in TRIAGE_LEVELS:
        key = str(int(level)) if level == int(level) else str(level)
        demand[key] = {
            skill: _number(
                math.fsum(
                    w
                    for i in items
                    if triage_level(i.triage) <= level
                    for s, w in i.estimate
                    if s == skill
                )
            )
            for skill in skills
        }
    shortages = _shortages(items, manpower)
    ends = _dates(items, people, scheduled, workdays)
    work = []
    for item, short, end in zip(items, shortages, ends, strict=True):
        work.append(
            {
                "id": item.id,
                "rank": int(item.rank) if item.rank == int(item.rank) else item.rank,
                "name": item.name,
                "triage": _number(triage_level(item.triage)),
                "track": item.track,
                "estimate": {s: _number(w) for s, w in _merged(item.estimate).items()},
                "shortage": short,
                "end": end,
            }
        )
    return {
        "manpower": {skill: _number(weeks) for skill, weeks in manpower.items()},
        "demand": demand,
        "staff": {skill: [p.name for p in people if p.skill == skill] for skill in skills},
        "work": work,
    }


def reference_plan(model: Model) -> dict[str, Any]:
    """The plan of ``model``, computed the slow and obvious way."""
    days = _quarter(model)
    holidays = set(model.holidays)
    workdays = [d for d in days if d.weekday() < 5 and d not in holidays]
    skills = sorted(
        {p.skill for p in model.staff}
        | {s for i in model.work for s, _ in i.estimate}
        | set(model.params.scheduled)
    )
    scheduled = list(model.params.scheduled) or skills
    tracks = sorted(({p.track for p in model.staff} | {i.track for i in model.work}) - {"All"})
    weekdays = sum(1 for d in days if d.weekday() < 5)
    return {
        "params": {
            "start": model.params.start.isoformat(),
            "end": model.params.end.isoformat(),
            "num_weeks": _number(weekdays / 5),
            "scheduled_skills": scheduled,
        },
        "skills": skills,
        "triages": [_number(level) for level in TRIAGE_LEVELS],
        "tracks": ["All", *tracks],
        "by_track": {
            track: _track(model, track, skills, scheduled, workdays) for track in ["All", *tracks]
        },
    }


def main() -> int:
    """Streams on stdin, plan JSON on stdout."""
    try:
        model = parse_streams(sys.stdin.read())
    except StreamsError as exc:
        print(f"reference planner: {exc}", file=sys.stderr)
        return 2
    json.dump(reference_plan(model), sys.stdout, sort_keys=True, separators=(",", ":"))
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


ADDED_ITEM_FIELDS = ("start", "binding", "why")
ADDED_TRACK_FIELDS = ("load", "leverage")


def domain_fields(plan: dict[str, Any]) -> dict[str, Any]:
    """``plan`` with only DOMAIN.md's "Plan JSON" fields (a new dict; ``plan`` is untouched)."""
    out = dict(plan)
    out["params"] = {k: v for k, v in plan["params"].items() if k != "holidays"}
    out["by_track"] = {}
    for name, track in plan["by_track"].items():
        view = {k: v for k, v in track.items() if k not in ADDED_TRACK_FIELDS}
        view["work"] = [
            {k: v for k, v in item.items() if k not in ADDED_ITEM_FIELDS} for item in track["work"]
        ]
        out["by_track"][name] = view
    return out
