"""Compare two plans one row per item: how many work days each item slipped, and its status.

``compare_plans(before, after, track)`` takes two plan JSON documents and the
track to compare (``All`` by default: every item once, with its date in All;
a named track: that track's items, with the track's own dates). Each row::

    {"id", "name", "rank", "track", "before", "after",   # ISO dates, None: DNF or absent
     "dnf_before", "dnf_after", "days_slipped",          # work days, positive is later
     "shortage_before", "shortage_after",                # {skill: man-weeks (negative)}
     "status", "causes": []}                             # causes: web.blame fills them

Work days are counted as the planner counts them: weekdays that are not
holidays (the holidays of both plans). A DNF item counts as done on the first
work day after its plan's quarter end, so an item that went from Dec 30 to DNF
in a quarter ending Dec 31 slipped 2 work days, and from DNF to DNF 0.

``status`` is ``added`` or ``removed`` (``days_slipped`` None) for an item in one
plan only; else ``slipped`` (later, or the same date with more shortage),
``improved`` (earlier, or less shortage) or ``unchanged``. Rows are sorted by
days slipped, largest first (an added or removed item counts as 0), then
slips before additions, removals, unchanged and improvements, then by rank.
"""

from __future__ import annotations

import bisect
import datetime as dt
from typing import Any

from formats.plan import EPSILON, iso_date, same_shortage

__all__ = ["CompareError", "WorkDays", "compare_plans", "STATUSES", "moved"]

STATUSES = ("slipped", "added", "removed", "unchanged", "improved")  # also the tie order
_MONDAY = dt.date(2000, 1, 3)


class CompareError(ValueError):
    """A comparison that cannot be made; ``status`` is the HTTP code."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class WorkDays:
    """Counts work days (weekdays that are not holidays) between dates."""

    def __init__(self, holidays: set[dt.date]) -> None:
        self.holidays = sorted(day for day in holidays if day.weekday() < 5)

    def ordinal(self, day: dt.date) -> int:
        """How many work days come before ``day`` (from a fixed Monday in 2000)."""
        weeks, rest = divmod((day - _MONDAY).days, 7)
        weekdays = weeks * 5 + min(rest, 5)
        return weekdays - bisect.bisect_left(self.holidays, day)

    def between(self, start: dt.date, end: dt.date) -> int:
        """Work days from ``start`` to ``end`` (negative when ``end`` is earlier)."""
        return self.ordinal(end) - self.ordinal(start)


def _params(plan: dict[str, Any]) -> dict[str, Any]:
    params = plan.get("params")
    return params if isinstance(params, dict) else {}


def _dnf_day(plan: dict[str, Any]) -> dt.date | None:
    """The day a DNF item of ``plan`` counts as done: the day after its quarter's end."""
    end = iso_date(_params(plan).get("end"))
    return end + dt.timedelta(days=1) if end else None


def _items(plan: dict[str, Any], track: str) -> dict[str, dict[str, Any]]:
    work = ((plan.get("by_track") or {}).get(track) or {}).get("work") or []
    return {str(item.get("id")): item for item in work if isinstance(item, dict)}


def _total(shortage: Any) -> float:
    if not isinstance(shortage, dict):
        return 0.0
    return sum(abs(v) for v in shortage.values() if isinstance(v, int | float))


def _slip(before: dict, after: dict, days: WorkDays, dnf_from: Any, dnf_to: Any) -> int | None:
    """Work days ``after``'s date is later than ``before``'s (DNF: after the quarter)."""
    old = iso_date(before.get("end")) or dnf_from
    new = iso_date(after.get("end")) or dnf_to
    if old is None or new is None:
        return None
    return days.between(old, new)


def _status(before: dict | None, after: dict | None, slip: int | None) -> str:
    if before is None:
        return "added"
    if after is None:
        return "removed"
    if slip:
        return "slipped" if slip > 0 else "improved"
    lack_before, lack_after = _total(before.get("shortage")), _total(after.get("shortage"))
    if abs(lack_after - lack_before) < EPSILON:
        return "unchanged"
    return "slipped" if lack_after > lack_before else "improved"


def moved(row: dict[str, Any]) -> bool:
    """True for a row whose outcome changed: a date, a shortage, or the item itself came/went."""
    if row["status"] != "unchanged":
        return True
    return not same_shortage(row["shortage_before"], row["shortage_after"])


def _row(key: str, before: dict | None, after: dict | None, slip: int | None) -> dict[str, Any]:
    shown = after or before or {}
    return {
        "id": key,
        "name": shown.get("name"),
        "rank": shown.get("rank"),
        "track": shown.get("track"),
        "before": before.get("end") if before else None,
        "after": after.get("end") if after else None,
        "dnf_before": bool(before) and before.get("end") is None,
        "dnf_after": bool(after) and after.get("end") is None,
        "days_slipped": slip,
        "shortage_before": dict(before.get("shortage") or {}) if before else {},
        "shortage_after": dict(after.get("shortage") or {}) if after else {},
        "status": _status(before, after, slip),
        "causes": [],
    }


def _order(row: dict[str, Any]) -> tuple:
    rank = row["rank"] if isinstance(row["rank"], int | float) else float("inf")
    return (-(row["days_slipped"] or 0), STATUSES.index(row["status"]), rank, row["id"])


def compare_plans(
    before: dict[str, Any], after: dict[str, Any], track: str = "All"
) -> dict[str, Any]:
    """One row per item of ``track`` in either plan (see the module docstring)."""
    tracks = set(before.get("by_track") or {}) | set(after.get("by_track") or {})
    if track not in tracks:
        known = ", ".join(sorted(tracks)) or "none"
        raise CompareError(f"unknown track {track[:60]!r} (tracks: {known})", 404)
    holidays = {
        day
        for plan in (before, after)
        for day in map(iso_date, _params(plan).get("holidays") or [])
        if day is not None
    }
    days = WorkDays(holidays)
    dnf_from, dnf_to = _dnf_day(before), _dnf_day(after)
    old, new = _items(before, track), _items(after, track)
    rows = []
    for key in list(new) + [k for k in old if k not in new]:
        prior, item = old.get(key), new.get(key)
        slip = _slip(prior, item, days, dnf_from, dnf_to) if prior and item else None
        rows.append(_row(key, prior, item, slip))
    rows.sort(key=_order)
    counts = {status: 0 for status in STATUSES}
    for row in rows:
        counts[row["status"]] += 1
    return {"track": track, "rows": rows, "counts": counts}
