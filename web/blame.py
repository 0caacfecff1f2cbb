"""Why did an item move: the sheet changes between two raw commits that explain it.

``blame(rows, inputs, track)`` fills each moved row of a comparison
(``web.compare``) with ``causes``, most direct first:

1. ``own_row``: the item's own row changed (which cells, old -> new), was
   added or removed.
2. ``person``: a person of its binding skill (before or after; and the skills
   it is short of) in its track (any track for All, which pools everyone)
   joined, left, moved track or skill, or is away on other days.
3. ``item_above``: an item ranked above it (in the compared track) was added,
   re-ranked or moved above it, grew or shrank in a skill it needs, or left
   the places above it.
4. ``calendar``: the quarter, the holidays or the scheduled skills changed.

Each cause is ``{"kind", "text", "sheet", "row", "line", "column", "cells"}``:
the raw sheet, the row's key (its ID), its spreadsheet row number, the changed
columns, and each changed cell ``{"column", "before", "after", "cell"}``. What
a change means comes from the two conditioned models (``formats.streams``);
where it is in the workbook comes from the raw diff (``web.rawdiff``). An item
that moved with none of these gets one ``unexplained`` cause that says so.

Pure: no sockets, no store; ``web.history`` reads the inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from formats.streams import Item, Model, Person, format_date
from web.compare import moved
from web.rawdiff import RowChange, Sheet, diff_sheets

__all__ = ["BlameInputs", "blame", "MAX_CAUSES", "KINDS"]

MAX_CAUSES = 25  # per item; more are summed up in one last line
KINDS = ("own_row", "person", "item_above", "calendar", "unexplained", "more")
ALL = "All"
_NOWHERE = float("inf")  # the place of an item not in an order


@dataclass
class BlameInputs:
    """Both sides of a comparison: plans, conditioned models (None: unreadable), raw sheets."""

    plan_before: dict[str, Any]
    plan_after: dict[str, Any]
    model_before: Model | None
    model_after: Model | None
    sheets_before: dict[str, Sheet]
    sheets_after: dict[str, Sheet]


class _Sides:
    """What the causes are looked up in, made once per comparison."""

    def __init__(self, inputs: BlameInputs, track: str) -> None:
        self.inputs = inputs
        self.track = track
        self.changes = diff_sheets(inputs.sheets_before, inputs.sheets_after)
        self.by_key: dict[str, list[RowChange]] = {}
        for change in self.changes.values():
            self.by_key.setdefault(change.key, []).append(change)
        before, after = inputs.model_before, inputs.model_after
        self.items = (
            ({i.id: i for i in before.work} if before else {}),
            ({i.id: i for i in after.work} if after else {}),
        )
        self.people = (
            ({p.id: p for p in before.staff} if before else {}),
            ({p.id: p for p in after.staff} if after else {}),
        )
        self.order = _positions(before, track), _positions(after, track)
        # Changed items by their first place in either order, so that the items above one
        # item are a prefix (a sheet re-sorted whole stays linear, not quadratic).
        changed = [key for key in _union(*self.items) if _item_changed(self, key)]
        self.first = {key: min(o.get(key, _NOWHERE) for o in self.order) for key in changed}
        self.changed_items = sorted(changed, key=self.first.__getitem__)
        self.changed_people = [key for key in _union(*self.people) if _person_changed(self, key)]
        self.calendar = _calendar_causes(self) if before and after else []
        self.plan_items = (
            _plan_items(inputs.plan_before, track),
            _plan_items(inputs.plan_after, track),
        )

    def locate(self, key: str, name: str | None) -> RowChange | None:
        """The raw row change of an item or person: by its ID, else by its name."""
        found = self.by_key.get(key)
        if found:
            return found[0]
        for sheets in (self.inputs.sheets_after, self.inputs.sheets_before):
            for sheet in sheets.values():
                row = sheet.find(key, name)
                if row is not None:
                    return self.changes.get((sheet.name, row.key))
        return None


def _union(a: dict, b: dict) -> list[str]:
    return list(b) + [key for key in a if key not in b]


def _positions(model: Model | None, track: str) -> dict[str, int]:
    """Each item's place in the planner's order (rank, then input order) within ``track``."""
    if model is None:
        return {}
    work = [(item.rank, n, item.id) for n, item in enumerate(model.work)]
    work = [w for w in work if track == ALL or model.work[w[1]].track == track]
    return {key: place for place, (_, _, key) in enumerate(sorted(work))}


def _plan_items(plan: dict[str, Any], track: str) -> dict[str, dict[str, Any]]:
    work = ((plan.get("by_track") or {}).get(track) or {}).get("work") or []
    return {str(item.get("id")): item for item in work if isinstance(item, dict)}


def _estimate(item: Item | None) -> dict[str, float]:
    return dict(item.estimate) if item else {}


def _item_changed(sides: _Sides, key: str) -> bool:
    a, b = sides.items[0].get(key), sides.items[1].get(key)
    if a is None or b is None:
        return True
    return (a.rank, a.track) != (b.rank, b.track) or _estimate(a) != _estimate(b)


def _person_changed(sides: _Sides, key: str) -> bool:
    a, b = sides.people[0].get(key), sides.people[1].get(key)
    if a is None or b is None:
        return True
    return (a.track, a.skill, set(a.vacation)) != (b.track, b.skill, set(b.vacation))


def _cause(kind: str, text: str, change: RowChange | None) -> dict[str, Any]:
    if change is None:
        return {"kind": kind, "text": text, "sheet": None, "row": None, "line": None,
                "column": None, "cells": []}  # fmt: skip
    return {
        "kind": kind,
        "text": text,
        "sheet": change.sheet,
        "row": change.key,
        "line": change.number,
        "column": change.columns,
        "cells": [cell.as_json() for cell in change.cells],
    }


def _cells_text(change: RowChange | None) -> str:
    if change is None or change.kind != "changed":
        return ""
    return "; ".join(
        f"{c.column} {c.before or '(blank)'} → {c.after or '(blank)'}" for c in change.cells
    )


def _calendar_causes(sides: _Sides) -> list[dict[str, Any]]:
    """The quarter, holiday and scheduled-skill changes, each on its raw row."""
    before, after = sides.inputs.model_before, sides.inputs.model_after
    texts = []
    if before.params.start != after.params.start or before.params.end != after.params.end:
        was = f"{format_date(before.params.start)} – {format_date(before.params.end)}"
        now = f"{format_date(after.params.start)} – {format_date(after.params.end)}"
        texts.append(f"the quarter changed: {was} → {now}")
    if before.params.scheduled != after.params.scheduled:
        was, now = ", ".join(before.params.scheduled), ", ".join(after.params.scheduled)
        texts.append(f"the scheduled skills changed: {was or 'all'} → {now or 'all'}")
    added = sorted(set(after.holidays) - set(before.holidays))
    gone = sorted(set(before.holidays) - set(after.holidays))
    if added:
        texts.append("holiday added: " + ", ".join(map(format_date, added)))
    if gone:
        texts.append("holiday removed: " + ", ".join(map(format_date, gone)))
    if not texts:
        return []
    text = "; ".join(texts)
    keys = set(_union(*sides.items)) | set(_union(*sides.people))
    names = {i.name for side in sides.items for i in side.values()}
    names |= {p.name for side in sides.people for p in side.values()}
    rows = [
        change
        for change in sides.changes.values()
        if change.key not in keys and not _names_one(sides, change, names)
    ]
    return [_cause("calendar", text, change) for change in rows] or [_cause("calendar", text, None)]


def _names_one(sides: _Sides, change: RowChange, names: set[str]) -> bool:
    """True for a raw row that holds a work item's or a person's name (so not the calendar)."""
    inputs = sides.inputs
    for sheet in (inputs.sheets_before.get(change.sheet), inputs.sheets_after.get(change.sheet)):
        row = sheet.rows.get(change.key) if sheet else None
        if row is not None and any(v.strip() in names for v in row.cells.values() if v.strip()):
            return True
    return False


def _own(sides: _Sides, key: str, row: dict[str, Any]) -> list[dict[str, Any]]:
    change = sides.locate(key, row.get("name"))
    if change is None:
        return []
    if change.kind == "added":
        return [_cause("own_row", "its row was added to the sheet", change)]
    if change.kind == "removed":
        return [_cause("own_row", "its row was removed from the sheet", change)]
    return [_cause("own_row", f"its row changed: {_cells_text(change)}", change)]


def _skills(sides: _Sides, key: str, row: dict[str, Any]) -> set[str]:
    """The skills whose people decide this item: its binding skills and where it is short."""
    found = set(row["shortage_before"]) | set(row["shortage_after"])
    for side in sides.plan_items:
        binding = (side.get(key) or {}).get("binding")
        if isinstance(binding, str) and binding:
            found.add(binding)
    return found


def _person_text(a: Person | None, b: Person | None) -> str:
    who = b or a
    label = f"{who.name} ({who.skill}, {who.track})"
    if a is None:
        return f"{label} joined"
    if b is None:
        return f"{label} left"
    parts = []
    if a.track != b.track:
        parts.append(f"moved track {a.track} → {b.track}")
    if a.skill != b.skill:
        parts.append(f"changed skill {a.skill} → {b.skill}")
    more, fewer = set(b.vacation) - set(a.vacation), set(a.vacation) - set(b.vacation)
    if more:
        parts.append(f"is away {len(more)} more day{'s' if len(more) > 1 else ''}")
    if fewer:
        parts.append(f"is away {len(fewer)} fewer day{'s' if len(fewer) > 1 else ''}")
    return f"{b.name} ({b.skill}, {b.track}) " + ", ".join(parts)


def _people(sides: _Sides, skills: set[str]) -> list[dict[str, Any]]:
    causes = []
    for key in sides.changed_people:
        a, b = sides.people[0].get(key), sides.people[1].get(key)
        relevant = [p for p in (a, b) if p is not None and p.skill in skills]
        if sides.track != ALL:
            relevant = [p for p in relevant if p.track == sides.track]
        if relevant:
            change = sides.locate(key, (b or a).name)
            causes.append(_cause("person", _person_text(a, b), change))
    return causes


def _above_text(sides: _Sides, key: str, now: bool, was: bool, needs: set[str]) -> str | None:
    """What an item above (or formerly above) this one did, or None when nothing relevant."""
    a, b = sides.items[0].get(key), sides.items[1].get(key)
    label = f"{key} “{(b or a).name}”"
    if now and not was:
        if a is None:
            return f"{label} was added above it"
        if a.track != b.track:
            return f"{label} moved into {b.track} above it"
        return f"{label} was re-ranked above it (rank {a.rank:g} → {b.rank:g})"
    if was and not now:
        if b is None:
            return f"{label} was removed from above it"
        if a.track != b.track:
            return f"{label} moved out of {a.track}, from above it"
        return f"{label} was re-ranked below it (rank {a.rank:g} → {b.rank:g})"
    if now and was:
        old, new = _estimate(a), _estimate(b)
        grew = [s for s in sorted(needs) if new.get(s, 0) > old.get(s, 0) + 1e-9]
        shrank = [s for s in sorted(needs) if new.get(s, 0) < old.get(s, 0) - 1e-9]
        parts = [f"{s} {old.get(s, 0):g} → {new.get(s, 0):g}" for s in grew + shrank]
        if parts:
            verb = "grew" if grew and not shrank else "shrank" if shrank and not grew else "changed"
            return f"{label} above it {verb}: " + ", ".join(parts)
    return None


def _above(sides: _Sides, key: str, needs: set[str], room: int) -> list[dict[str, Any]]:
    """The changed items above (or formerly above) ``key``; at most ``room`` + 1 of them."""
    causes: list[dict[str, Any]] = []
    place = sides.order[0].get(key), sides.order[1].get(key)
    reach = max((p for p in place if p is not None), default=-1)
    for other in sides.changed_items:
        if sides.first[other] >= reach or len(causes) > room:
            break
        if other == key:
            continue
        was = place[0] is not None and sides.order[0].get(other, place[0]) < place[0]
        now = place[1] is not None and sides.order[1].get(other, place[1]) < place[1]
        if not (was or now):
            continue
        text = _above_text(sides, other, now, was, needs)
        if text:
            item = sides.items[1].get(other) or sides.items[0].get(other)
            causes.append(_cause("item_above", text, sides.locate(other, item.name)))
    return causes


def _causes(sides: _Sides, row: dict[str, Any]) -> list[dict[str, Any]]:
    key = row["id"]
    causes = _own(sides, key, row)
    if row["status"] not in ("added", "removed"):
        skills = _skills(sides, key, row)
        needs = skills | set(_estimate(sides.items[0].get(key)))
        needs |= set(_estimate(sides.items[1].get(key)))
        causes += _people(sides, skills)
        causes += _above(sides, key, needs, MAX_CAUSES)
        causes += sides.calendar
    if not causes:
        causes = [
            _cause(
                "unexplained",
                "moved with no listed reason: its row, the people of its skill, the items "
                "above it and the calendar are unchanged in the sheet (a bug to report)",
                None,
            )
        ]
    if len(causes) > MAX_CAUSES:  # the items above were counted only this far
        more = _cause("more", "and more changes: compare a narrower track or span", None)
        causes = causes[: MAX_CAUSES - 1] + [more]
    return causes


def blame(rows: list[dict[str, Any]], inputs: BlameInputs, track: str = ALL) -> int:
    """Fill ``causes`` of every moved row (in place); how many rows moved without a reason."""
    sides = _Sides(inputs, track)
    unexplained = 0
    for row in rows:
        if not moved(row):
            continue
        row["causes"] = _causes(sides, row)
        unexplained += row["causes"][0]["kind"] == "unexplained"
    return unexplained
