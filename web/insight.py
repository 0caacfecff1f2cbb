"""What the plan page says beyond the plan's own figures: forecast columns and "why this date".

Pure functions over the plan JSON (DOMAIN.md, with the planner's ``start``,
``binding``, ``why``, ``load`` and ``leverage``) and the forecast JSON
(``formats.forecast``); ``web.views.plan_view`` calls them, tests call them
directly.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from formats.plan import iso_date

__all__ = ["forecast_for", "forecast_summary", "why_line", "calendar", "load_view"]


def _short(text: Any) -> str:
    """``Oct 25`` for an ISO date (the year is the quarter's)."""
    day = iso_date(text)
    return f"{day:%b} {day.day}" if day else str(text)


def _count(value: Any) -> int:
    """A whole count from the plan, 0 for anything else."""
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def _plural(count: int, word: str, many: str | None = None) -> str:
    return f"{count} {word if count == 1 else many or word + 's'}"


def forecast_for(forecast: dict[str, Any] | None, track: str) -> dict[str, dict[str, Any]]:
    """The forecast of every item of one track, by item id ({} without a forecast)."""
    if not isinstance(forecast, dict):
        return {}
    data = (forecast.get("by_track") or {}).get(track) or {}
    items = data.get("items") if isinstance(data, dict) else None
    return items if isinstance(items, dict) else {}


def forecast_summary(forecast: dict[str, Any] | None, plan: dict[str, Any]) -> dict[str, Any]:
    """What the page says about the forecast: there, of this plan's data, or not yet."""
    if not isinstance(forecast, dict):
        return {"state": "none"}
    made_from = (forecast.get("lineage") or {}).get("conditioned")
    planned_from = (plan.get("lineage") or {}).get("conditioned")
    return {
        "state": "current" if made_from and made_from == planned_from else "other",
        "runs": forecast.get("runs"),
        "spread": forecast.get("spread"),
        "conditioned": made_from,
    }


def why_line(item: dict[str, Any], track: str, params: dict[str, Any]) -> str:
    """One line saying why the item's date is what it is (DOMAIN.md "What the plan also says")."""
    why = item.get("why") if isinstance(item.get("why"), dict) else {}
    kind = why.get("kind")
    if item.get("unsized") or kind == "no_estimate":
        return "Not sized yet: the item has no estimate, so it has no date (DNF)."
    if kind == "no_scheduled_effort":
        return "No effort in a scheduled skill, so nothing holds it back: done on the first day."
    skill = why.get("skill") or item.get("binding")
    if not skill:
        return "The planner gave no reason for this date."
    people = _count(why.get("people"))
    where = "All (every track's people pooled)" if track == "All" else track
    staff = f"{where} has {_plural(people, skill + ' person', skill + ' people')}"
    if people == 0:
        staff = f"{where} has no {skill} people"
    start, end = item.get("start"), item.get("end")
    until = _short(end) if end else f"the quarter's end ({_short(params.get('end'))})"
    span = f"from {_short(start)} to {until}" if start else f"up to {until}"
    booked = _count(why.get("booked_days"))
    away = _count(why.get("vacation_days"))
    holidays = _count(why.get("holidays"))
    lead = f"{skill} finishes last" if kind != "ran_out" else f"DNF: {skill} ran out of days"
    parts = [f"{lead}: {staff}"]
    if people:
        parts.append(f"fully booked {_plural(booked, 'work day')} {span}")
    tail = []
    if away:
        tail.append(_plural(away, "vacation day"))
    if holidays:
        tail.append(_plural(holidays, "holiday"))
    line = ", ".join(parts) + "."
    if tail:
        line += f" {' and '.join(tail)} in that span."
    return line


def calendar(params: dict[str, Any], today: dt.date | None = None) -> dict[str, Any]:
    """The quarter as the timeline draws it: start, end, holidays and today."""
    today = today or dt.date.today()
    holidays = [d for d in params.get("holidays") or [] if iso_date(d)]
    return {
        "start": params.get("start"),
        "end": params.get("end"),
        "holidays": holidays,
        "today": today.isoformat(),
    }


def load_view(track: dict[str, Any]) -> dict[str, Any]:
    """Weekly load per skill as the heatmap draws it: used / available, full weeks marked."""
    load = track.get("load") if isinstance(track.get("load"), dict) else {}
    weeks = [w for w in load.get("weeks") or [] if isinstance(w, str)]
    rows = []
    for skill, series in sorted((load.get("skills") or {}).items()):
        if not isinstance(series, dict):
            continue
        available = list(series.get("available") or [])
        used = list(series.get("used") or [])
        cells = []
        for index in range(len(weeks)):
            have = _number(available[index] if index < len(available) else 0)
            took = _number(used[index] if index < len(used) else 0)
            share = round(100 * took / have, 1) if have > 0 else None
            cells.append(
                {
                    "available": have,
                    "used": took,
                    "percent": share,
                    "full": share is not None and share >= 99.95,
                }
            )
        rows.append({"skill": skill, "cells": cells})
    return {"weeks": weeks, "skills": rows}


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0
