"""A what-if plan as what it changes in its base plan: made by the worker, applied by the web.

The delta of a what-if plan against its base plan (both as ``compute_plan`` makes them,
or as the store and the web hold them, with problems, lineage and status)::

    {"params", "skills", "triages", "tracks": the what-if plan's own (small),
     "views": {TRACK: null                  the base plan's view of TRACK, as it is
                    | {"manpower", "demand", "staff", "load", "leverage": the view's own,
                       "work": {"length": rows in the view,
                                "from": [the base row each row is, -1 for none] (left out
                                        when row i is the base's row i: nothing reordered),
                                "rows": [[position, row]…] new rows, and rows that are
                                        another item's than the base row they replace,
                                "patch": [[position, {key: value}…]…] rows that are their
                                        base row with these keys changed ("why.people":
                                        one part of an object whose parts stay)}}}}

A what-if's forecast of one track may travel the same way, against the base's own
what-if forecast of that track (the same runs and seed, no edits):
``{"changed": {item id: summary}, "gone": [item id…]}`` instead of ``{"items"}``.

``apply_delta(base, delta)`` is the what-if plan (rows it did not send are the base's
own objects: read them, never change them). A what-if that adds two people to one
track of a 20,000-item plan sends two views and the parts of rows whose date, start,
binding or reason moved, instead of seven views of every row. A row's own problems
and its unsized flag (``qplan_service.bases.mark_rows``) are the same for every row
of an item, so a patched row keeps the base row's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from planning.whatif import compare_plans

OUTCOME = ("end", "shortage")  # the parts of a row compare_plans looks at
# The positions of a view's rows that may differ from the base's: a list, or a map of each
# to its ``row_patch`` against the base row (made by whoever made the row, not again here).
Rows = Sequence[int] | Mapping[int, dict[str, Any]]

__all__ = [
    "plan_delta",
    "apply_delta",
    "changes_between",
    "forecast_delta",
    "apply_forecast_delta",
]


def plan_delta(
    base: Mapping[str, Any],
    plan: Mapping[str, Any],
    same: set[str],
    aligned: Mapping[str, Rows] | None = None,
    reordered: Mapping[str, tuple[Rows, list[int]]] | None = None,
) -> tuple[dict[str, Any], dict[str, set[Any]]]:
    """The delta of ``plan`` against ``base`` (``same``: tracks whose view is the base's),
    and per changed track the ids of the items whose date or shortage may differ (their
    rows differ there, or came, or went): the only ones ``compare_plans`` may list.
    ``aligned``: per track whose rows are the base's items (their ids unique) in the
    base's order, the positions of the rows that are not the base's row objects
    themselves (``Rows``); ``reordered``: per track whose rows are the base's items in
    another order, those positions and each row's row in the base."""
    views: dict[str, Any] = {}
    moved: dict[str, set[Any]] = {}
    base_views = base.get("by_track") or {}
    for track, view in (plan.get("by_track") or {}).items():
        if track in same:
            views[track] = None
        else:
            was = base_views.get(track)
            at, origin = _where(track, aligned, reordered)
            views[track], moved[track] = _view_delta(was, view, at, origin)
    delta = {key: value for key, value in plan.items() if key != "by_track"}
    delta["views"] = views
    return delta, moved


def _where(
    track: str,
    aligned: Mapping[str, Rows] | None,
    reordered: Mapping[str, tuple[Rows, list[int]]] | None,
) -> tuple[Rows | None, list[int] | None]:
    """The positions of ``track``'s rows that may differ from the base's, and each row's row
    in the base (None: the same row), as ``plan_delta`` was told; (None, None): unknown."""
    at = (aligned or {}).get(track)
    if at is not None:
        return at, None
    return (reordered or {}).get(track, (None, None))


def _view_delta(
    was: Mapping[str, Any] | None,
    view: Mapping[str, Any],
    at: Rows | None = None,
    origin: list[int] | None = None,
) -> tuple[dict[str, Any], set[Any]]:
    """One changed view: its own figures and the rows that are not the base's (``at``,
    ``origin``: see ``_where``)."""
    out = {key: value for key, value in view.items() if key != "work"}
    old = list((was or {}).get("work") or [])
    work = view.get("work") or []
    if at is None and (
        len(old) != len(work) or any(a["id"] != b["id"] for a, b in zip(old, work, strict=True))
    ):
        where: dict[Any, list[int]] = {}
        for index in range(len(old) - 1, -1, -1):  # popped from the end: first ones first
            where.setdefault(old[index]["id"], []).append(index)
        origin = []
        for row in work:
            left = where.get(row["id"])
            origin.append(left.pop() if left else -1)
    rows, patches, moved = [], [], set()
    looked = enumerate(work) if at is None else ((position, work[position]) for position in at)
    for position, row in looked:
        index = position if origin is None else origin[position]
        if index < 0:
            rows.append([position, row])
            moved.add(row["id"])
            continue
        before = old[index]
        if at is None and (before is row or before == row):
            continue  # (rows named by ``at`` differ)
        patch = at.get(position) if isinstance(at, Mapping) else None
        if patch is not None or before.keys() == row.keys():
            patch = patch if patch is not None else row_patch(before, row)
            patches.append([position, patch])
            if any(key.partition(".")[0] in OUTCOME for key in patch):  # (compare_plans)
                moved.add(row["id"])
        else:
            rows.append([position, row])
            moved.add(row["id"])
    if origin is not None:
        kept = set(origin)
        moved.update(row["id"] for index, row in enumerate(old) if index not in kept)
    spec: dict[str, Any] = {"length": len(work), "rows": rows, "patch": patches}
    if origin is not None:
        spec["from"] = origin
    out["work"] = spec
    return out, moved


def row_patch(
    before: Mapping[str, Any], row: Mapping[str, Any], keys: Iterable[str] | None = None
) -> dict[str, Any]:
    """The keys of ``row`` (``keys``: only those; both rows have the same keys) that differ
    from ``before``'s; of an object whose keys stay, the parts that differ, as
    ``"key.part"`` (a row's own keys have no dot)."""
    patch: dict[str, Any] = {}
    for key in row if keys is None else keys:
        value, was = row[key], before[key]
        if was is value or was == value:  # (a row made again shares most of its values)
            continue
        if (
            isinstance(value, dict)
            and isinstance(was, dict)
            and was.keys() == value.keys()
            and "." not in key
        ):
            for part, now in value.items():
                if was[part] != now:
                    patch[f"{key}.{part}"] = now
        else:
            patch[key] = value
    return patch


def _patched(row: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """``row`` with ``patch`` (``row_patch``'s) applied: a new row, ``row`` left as it is."""
    out = dict(row)
    for key, value in patch.items():
        outer, dot, part = key.partition(".")
        if dot:
            out[outer] = {**out[outer], part: value}
        else:
            out[key] = value
    return out


def apply_delta(base: Mapping[str, Any], delta: Mapping[str, Any]) -> dict[str, Any]:
    """The what-if plan: ``base`` (a plan) with ``delta`` applied; raises ValueError for a
    delta that does not fit ``base``."""
    base_views = base.get("by_track") or {}
    by_track: dict[str, Any] = {}
    for track, spec in (delta.get("views") or {}).items():
        if spec is None:
            if track not in base_views:
                raise ValueError(f"the delta reuses view {track!r}, which the base has not")
            by_track[track] = base_views[track]
        else:
            by_track[track] = _rebuild(base_views.get(track), spec)
    plan = {**base, **{key: value for key, value in delta.items() if key != "views"}}
    plan["by_track"] = by_track
    return plan


def _rebuild(was: Mapping[str, Any] | None, spec: Mapping[str, Any]) -> dict[str, Any]:
    """One changed view from the base's view and its part of the delta."""
    old = (was or {}).get("work") or []
    work_spec = spec.get("work") or {}
    sent = {position: row for position, row in work_spec.get("rows") or []}
    patched = {position: patch for position, patch in work_spec.get("patch") or []}
    origin = work_spec.get("from")
    work = []
    try:
        for position in range(int(work_spec.get("length", 0))):
            row = sent.get(position)
            if row is None:
                row = old[position if origin is None else origin[position]]
                patch = patched.get(position)
                if patch is not None:
                    row = _patched(row, patch)
            work.append(row)
    except (IndexError, TypeError, KeyError) as exc:
        raise ValueError(f"the delta's rows do not fit the base plan ({exc})") from None
    view = {key: value for key, value in spec.items() if key != "work"}
    view["work"] = work
    return view


def changes_between(
    base: Mapping[str, Any],
    plan: Mapping[str, Any],
    same: set[str],
    moved: Mapping[str, set[Any]] | None = None,
    aligned: Mapping[str, Rows] | None = None,
    reordered: Mapping[str, tuple[Rows, list[int]]] | None = None,
) -> list[dict[str, Any]]:
    """``compare_plans(base, plan)``, skipping the tracks whose view is the base's and, with
    ``moved`` (from ``plan_delta``, and ``aligned`` and ``reordered`` as given to it), the
    rows that are the base's."""

    def rows(track: str, view: Mapping[str, Any], ids: set[Any], in_base: bool) -> list:
        work = view.get("work") or []
        at, origin = _where(track, aligned, reordered)
        if at is not None:  # unique ids (in the base's order): only these rows may differ
            if origin is not None and in_base:  # their base rows, and those that left
                kept = set(origin)
                at = [origin[n] for n in at if origin[n] >= 0]
                at += [n for n in range(len(work)) if n not in kept]
            return [work[n] for n in at if work[n]["id"] in ids]
        return [row for row in work if row["id"] in ids]

    def changed(one: Mapping[str, Any], in_base: bool) -> dict[str, Any]:
        tracks = [track for track in one.get("tracks", []) if track not in same]
        by_track = one.get("by_track", {})
        if moved is not None:  # a track that went has no entry: compared whole
            by_track = {
                track: {"work": rows(track, view, ids, in_base)}
                if (ids := moved.get(track)) is not None
                else view
                for track, view in by_track.items()
                if track not in same
            }
        return {"tracks": tracks, "by_track": by_track}

    return compare_plans(changed(base, True), changed(plan, False))


def forecast_delta(
    base: Mapping[str, Any] | None,
    track: Mapping[str, Any],
    remade: list[str] | None = None,
) -> dict[str, Any]:
    """One track's forecast (``{"items"}``) as what changed against the base's; ``remade``:
    the only items that may differ, when the track's items are the base's."""
    old = (base or {}).get("items") or {}
    new = track.get("items") or {}
    missing = object()
    changed = {}
    for item in new if remade is None else remade:
        summary = new[item]
        was = old.get(item, missing)
        if was is not summary and was != summary:
            changed[item] = summary
    gone = [] if remade is not None else [item for item in old if item not in new]
    return {"changed": changed, "gone": gone}


def apply_forecast_delta(base: Mapping[str, Any], delta: Mapping[str, Any]) -> dict[str, Any]:
    """One track's forecast, ``{"items"}``: the base's with ``forecast_delta``'s applied."""
    items = dict(base.get("items") or {})
    items.update(delta.get("changed") or {})
    for item in delta.get("gone") or []:
        items.pop(item, None)
    return {"items": items}
