"""The plan dataset: the one file qplan_service commits (``plan/plan.json``).

Its shape is DOMAIN.md's "Plan JSON" (plus each item's start, binding and why,
and each track's load and leverage); keys sorted, man-weeks rounded to 2
decimals, dates ISO. Two plans are compared in one way everywhere: an item's
outcome is its date and its shortage, and shortages equal within ``EPSILON``
are the same (a plan rounds to 2 decimals, so less is float noise).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

PLAN_FILE = "plan.json"
EPSILON = 0.005  # man-weeks

__all__ = ["PLAN_FILE", "EPSILON", "iso_date", "outcome", "same_shortage", "same_outcome"]


def iso_date(text: Any) -> dt.date | None:
    """A date of a plan (ISO text) as a date; None for null or anything else."""
    if not isinstance(text, str):
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def _weeks(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def same_shortage(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    """True when two shortage (or estimate) maps agree within rounding; missing skills are 0."""
    a, b = a or {}, b or {}
    return all(abs(_weeks(a.get(k)) - _weeks(b.get(k))) < EPSILON for k in set(a) | set(b))


def outcome(item: dict[str, Any] | None) -> dict[str, Any] | None:
    """The part of an item a plan decides: its date (None is DNF) and its shortage."""
    if item is None:
        return None
    return {"end": item.get("end"), "shortage": dict(item.get("shortage") or {})}


def same_outcome(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    """True when two items (or outcomes) have the same date and the same shortage."""
    if a is None or b is None:
        return a is b
    return a.get("end") == b.get("end") and same_shortage(a.get("shortage"), b.get("shortage"))
