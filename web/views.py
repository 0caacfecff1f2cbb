"""What the plan page shows for one track at one triage level, as plain data.

``plan_view`` turns the plan JSON (../shared/DOMAIN.md "Plan JSON") into the
view the page draws and ``GET /api/plan`` answers: staffing per skill in
people (available = manpower / num_weeks, required = demand at the triage
level / num_weeks, net = available - required), the work table split at the
triage cut, staff by skill, the chart series, the counts, the version chain
and the problems. No sockets here: tests call it directly.
"""

from __future__ import annotations

import math
from typing import Any

from formats.streams import TRIAGE_LEVELS, format_number, triage_level
from web.insight import calendar, forecast_for, forecast_summary, load_view, why_line

__all__ = [
    "ViewError",
    "UnknownTrack",
    "BadTriage",
    "parse_triage",
    "plan_view",
    "track_counts",
    "work_rows",
    "DEFAULT_TRIAGE",
]

DEFAULT_TRIAGE = 3.0  # the whole plan: every item is inside the cut
EPSILON = 1e-6  # man-weeks: float noise must not flip a net from 0 to "short"


class ViewError(ValueError):
    """A view that cannot be made from this request; ``status`` is the HTTP code."""

    status = 400


class UnknownTrack(ViewError):
    """The plan has no such track."""

    status = 404


class BadTriage(ViewError):
    """The triage is not a number from 1 to 3."""

    status = 400


def parse_triage(text: str | float | None) -> float:
    """The triage level for a request value (blank: 3); raises BadTriage."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return DEFAULT_TRIAGE
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise BadTriage(f"triage {str(text)[:40]!r} is not a number from 1 to 3") from None
    if not math.isfinite(value) or value < TRIAGE_LEVELS[0] or value > TRIAGE_LEVELS[-1]:
        raise BadTriage(f"triage {str(text)[:40]!r} is not a number from 1 to 3")
    return triage_level(value)


def _level_key(level: float) -> str:
    """The key of a triage level in the plan's ``demand`` map ("1", "1.5", ...)."""
    return format_number(level)


def _people(weeks: float, num_weeks: float) -> float:
    """Man-weeks over the quarter as a head count."""
    return round(weeks / num_weeks, 2) if num_weeks > 0 else 0.0


def _number(value: Any) -> float:
    """A plan number, or 0 for anything that is not one."""
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def track_counts(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """Every track of the plan (All first, as the plan orders them) with its item count."""
    by_track = plan.get("by_track") or {}
    return [
        {"name": name, "items": len((by_track.get(name) or {}).get("work") or [])}
        for name in plan.get("tracks") or []
    ]


def _ordered(work: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Items in rank order; ties keep the plan's order."""
    return [
        item for _, _, item in sorted((_number(w.get("rank")), i, w) for i, w in enumerate(work))
    ]


def work_rows(work: list[dict[str, Any]], level: float) -> list[dict[str, Any]]:
    """The work table: items inside the cut in rank order, then the ones beyond it."""
    rows = []
    for item in _ordered(work):
        row = dict(item)
        row["in_cut"] = triage_level(_number(item.get("triage")) or 3.0) <= level + EPSILON
        row["dnf"] = item.get("end") is None
        rows.append(row)
    return [r for r in rows if r["in_cut"]] + [r for r in rows if not r["in_cut"]]


def _staffing(track: dict[str, Any], skills: list[str], level: float, num_weeks: float) -> list:
    """Available, required and net people per skill (skills with neither are left out)."""
    manpower = track.get("manpower") or {}
    demand = (track.get("demand") or {}).get(_level_key(level)) or {}
    rows = []
    for skill in skills:
        have, need = _number(manpower.get(skill)), _number(demand.get(skill))
        if have <= EPSILON and need <= EPSILON:
            continue
        available, required = _people(have, num_weeks), _people(need, num_weeks)
        net = round(available - required, 2)
        rows.append(
            {
                "skill": skill,
                "available": available,
                "required": required,
                "net": net,
                "short": net <= EPSILON,
                "manpower_weeks": round(have, 2),
                "demand_weeks": round(need, 2),
            }
        )
    return rows


def _chart(rows: list[dict[str, Any]], skills: list[str], staffing: list) -> dict[str, Any]:
    """Per skill: demand at the cut against the shortage of the items inside it (man-weeks)."""
    demand = {row["skill"]: row["demand_weeks"] for row in staffing}
    shortage = dict.fromkeys(skills, 0.0)
    for row in rows:
        if not row["in_cut"]:
            continue
        for skill, weeks in (row.get("shortage") or {}).items():
            shortage[skill] = shortage.get(skill, 0.0) + abs(_number(weeks))
    shown = [s for s in skills if demand.get(s, 0) > EPSILON or shortage.get(s, 0) > EPSILON]
    return {
        "skills": shown,
        "demand": [round(demand.get(s, 0.0), 2) for s in shown],
        "shortage": [round(shortage.get(s, 0.0), 2) for s in shown],
    }


def plan_view(
    plan: dict[str, Any],
    track: str | None = "All",
    triage: str | float | None = None,
    forecast: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The page's view of ``plan`` for ``track`` (default All) at ``triage`` (default 3).

    ``forecast`` (the forecast JSON, ``formats.forecast``) adds each row's P50/P85/P95
    and chance to finish in the quarter; rows also carry the line that says why their
    date is what it is.
    """
    level = parse_triage(triage)
    tracks = plan.get("tracks") or []
    name = track or (tracks[0] if tracks else "All")
    by_track = plan.get("by_track") or {}
    if name not in by_track:
        raise UnknownTrack(f"no track {name[:80]!r} in this plan; tracks: {', '.join(tracks)}")
    data = by_track[name] or {}
    params = plan.get("params") or {}
    skills = list(plan.get("skills") or [])
    num_weeks = _number(params.get("num_weeks"))
    rows = work_rows(list(data.get("work") or []), level)
    predicted = forecast_for(forecast, name)
    for row in rows:
        row["why_text"] = why_line(row, name, params)
        row["forecast"] = predicted.get(str(row.get("id")))
    staffing = _staffing(data, skills, level, num_weeks)
    inside = sum(1 for row in rows if row["in_cut"])
    problems = list(plan.get("problems") or [])
    return {
        "track": name,
        "triage": level,
        "triages": list(plan.get("triages") or TRIAGE_LEVELS),
        "tracks": track_counts(plan),
        "params": params,
        "skills": skills,
        "staffing": staffing,
        "work": rows,
        "counts": {"in_cut": inside, "total": len(rows), "dnf": sum(r["dnf"] for r in rows)},
        "staff": data.get("staff") or {},
        "chart": _chart(rows, skills, staffing),
        "problems": problems,
        "fatal": [p for p in problems if p.get("severity") == "fatal"],
        "lineage": plan.get("lineage") or {},
        "status": plan.get("status") or {},
        "forecast": forecast_summary(forecast, plan),
        "calendar": calendar(params),
        "load": load_view(data),
        "leverage": [e for e in data.get("leverage") or [] if isinstance(e, dict)],
    }
