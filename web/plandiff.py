"""What changed between two plans: moved, added, removed and edited items, and staffing.

``diff_plans(old, new)`` compares two plan JSON documents track by track
(items matched by id): items whose dev-complete date or shortage moved,
items added or removed, items whose name, rank, triage or estimate changed,
and per track and skill the manpower (man-weeks) and the people who joined
or left. The history page and ``GET /api/diff`` show it; the plan page marks
what-if changes with ``item_marks``.
"""

from __future__ import annotations

from typing import Any

from formats.plan import EPSILON, outcome, same_outcome, same_shortage

__all__ = ["diff_plans", "item_marks", "outcome", "same_shortage"]

EDITED_FIELDS = ("name", "rank", "triage", "estimate", "track")


def _weeks(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _same_estimate(a: Any, b: Any) -> bool:
    return same_shortage(a if isinstance(a, dict) else {}, b if isinstance(b, dict) else {})


def _edited(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """The input fields of an item that differ between two plans."""
    fields = []
    for name in EDITED_FIELDS:
        if name == "estimate":
            if not _same_estimate(old.get(name), new.get(name)):
                fields.append(name)
        elif old.get(name) != new.get(name):
            fields.append(name)
    return fields


def _items(plan: dict[str, Any], track: str) -> dict[str, dict[str, Any]]:
    work = ((plan.get("by_track") or {}).get(track) or {}).get("work") or []
    return {str(item.get("id")): item for item in work}


def _summary(track: str, item: dict[str, Any]) -> dict[str, Any]:
    return {
        "track": track,
        "id": item.get("id"),
        "name": item.get("name"),
        "rank": item.get("rank"),
    }


def _track_items(old: dict[str, Any], new: dict[str, Any], track: str) -> dict[str, list]:
    """Moved, added, removed and edited items of one track."""
    before, after = _items(old, track), _items(new, track)
    out: dict[str, list] = {"moved": [], "added": [], "removed": [], "edited": []}
    for key, item in after.items():
        prior = before.get(key)
        if prior is None:
            out["added"].append({**_summary(track, item), "after": outcome(item)})
            continue
        if not same_outcome(prior, item):
            out["moved"].append(
                {**_summary(track, item), "before": outcome(prior), "after": outcome(item)}
            )
        fields = _edited(prior, item)
        if fields:
            changes = {f: {"before": prior.get(f), "after": item.get(f)} for f in fields}
            out["edited"].append({**_summary(track, item), "fields": changes})
    for key, item in before.items():
        if key not in after:
            out["removed"].append({**_summary(track, item), "before": outcome(item)})
    return out


def _track_staffing(old: dict[str, Any], new: dict[str, Any], track: str) -> list[dict]:
    """Per skill: manpower before and after and who joined or left, where anything changed."""
    a = (old.get("by_track") or {}).get(track) or {}
    b = (new.get("by_track") or {}).get(track) or {}
    mp_a, mp_b = a.get("manpower") or {}, b.get("manpower") or {}
    staff_a, staff_b = a.get("staff") or {}, b.get("staff") or {}
    changes = []
    for skill in sorted(set(mp_a) | set(mp_b) | set(staff_a) | set(staff_b)):
        had, has = set(staff_a.get(skill) or []), set(staff_b.get(skill) or [])
        weeks_a, weeks_b = _weeks(mp_a.get(skill)), _weeks(mp_b.get(skill))
        if had == has and abs(weeks_a - weeks_b) < EPSILON:
            continue
        changes.append(
            {
                "track": track,
                "skill": skill,
                "before": round(weeks_a, 2),
                "after": round(weeks_b, 2),
                "joined": sorted(has - had),
                "left": sorted(had - has),
            }
        )
    return changes


def _ordered_tracks(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Tracks of both plans: the new plan's order, then tracks only the old one had."""
    tracks = list(new.get("tracks") or (new.get("by_track") or {}).keys())
    for name in old.get("tracks") or (old.get("by_track") or {}).keys():
        if name not in tracks:
            tracks.append(name)
    return tracks


def diff_plans(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """What changed from ``old`` to ``new`` (see the module docstring)."""
    items: dict[str, list] = {"moved": [], "added": [], "removed": [], "edited": []}
    staffing: list[dict] = []
    for track in _ordered_tracks(old, new):
        for kind, found in _track_items(old, new, track).items():
            items[kind] += found
        staffing += _track_staffing(old, new, track)
    params_a, params_b = old.get("params") or {}, new.get("params") or {}
    params = {
        key: {"before": params_a.get(key), "after": params_b.get(key)}
        for key in sorted(set(params_a) | set(params_b))
        if params_a.get(key) != params_b.get(key)
    }
    count = sum(len(v) for v in items.values()) + len(staffing) + len(params)
    return {
        "items": items,
        "staffing": staffing,
        "params": params,
        "tracks": {
            "added": [t for t in new.get("tracks") or [] if t not in (old.get("tracks") or [])],
            "removed": [t for t in old.get("tracks") or [] if t not in (new.get("tracks") or [])],
        },
        "count": count,
    }


def item_marks(old: dict[str, Any], new: dict[str, Any], track: str) -> dict[str, dict]:
    """Per item id of ``track``: its outcome in ``old`` where ``new`` decides it differently."""
    before, after = _items(old, track), _items(new, track)
    marks = {}
    for key, item in after.items():
        prior = before.get(key)
        if prior is None:
            marks[key] = {"before": None, "after": outcome(item)}
        elif not same_outcome(prior, item):
            marks[key] = {"before": outcome(prior), "after": outcome(item)}
    return marks
