"""A what-if's plan and forecast from its base's, recomputing only the views the edits change.

``compute_plan`` plans the synthetic track All and every track each with
``planner._view(works, people, skills, scheduled, calendar, pooled)``; the
forecast runs the schedule per track the same way. A view depends on nothing
else, so a view whose inputs are those of the base — the same prepared items
(the same objects, in the same order), the same people, skills, scheduled
skills and calendar — is the base's view, reused as it is; its forecast too,
when every item draws the same random factors (``montecarlo.factors_for``
draws them item after item in rank order, so an edit that changes which
skills an item has, or the rank order, changes every draw after it).

An edit of the quarter, the holidays, the scheduled skills or the skills
themselves changes every view: the what-if is then planned whole. Items the
edits did not touch keep their prepared form (``planner.Layout.works``);
edited ones are prepared again, by ``planner.layout`` of a model of just them.

The result equals ``compute_plan(scenario)`` and ``forecast(scenario, ...)``
exactly (``tests/test_replan.py`` checks it on random models and edits).
A changed view whose items sit in the base's rows (its people changed: the usual
"add two Web engineers"; or an item's estimate, triage or track was edited in place)
is replanned lane by lane (``planning.lanes``): a skill's lane in the greedy schedule
does not depend on the others, so only the lanes whose people or items changed are
scheduled again and only the rows that can move made again. A view whose rows move
(a rank, an item coming or going) is planned whole by ``planner._view`` (an edit at
rank r cannot change anything ranked above r, but the planner's schedule keeps no
state to resume from; the forecast's lanes do, ``montecarlo.LaneRuns``).
"""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from formats.streams import Item, Model, Person
from planning.lanes import BaseView, base_view, replan_view
from planning.montecarlo import ViewRuns, document, factors_for, view_forecast
from planning.montecarlo import forecast as full_forecast
from planning.montecarlo import groups as forecast_groups
from planning.planner import ALL, Layout, _view, compute_plan, layout, plan_skills

__all__ = ["Prepared", "prepare", "Replanned", "scenario_views", "replan", "reforecast"]


@dataclass
class Prepared:
    """A base, planned once: what every what-if on it starts from (kept by a worker)."""

    model: Model
    lay: Layout
    plan: dict[str, Any]  # compute_plan(model)
    by_item: dict[int, Any]  # id(Item) -> its prepared form (planner._Work)
    estimates: Mapping[str, Any] | None = None
    runs: int = 0  # 0: no forecast
    spread: float = 1.0
    seed: int = 0
    factors: list[dict[str, Any]] = field(default_factory=list)
    draws: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    forecast: dict[str, Any] | None = None  # its tracks' forecasts (by_track)
    runs_of: dict[str, ViewRuns] = field(default_factory=dict)  # its tracks' runs, by lane
    views: dict[str, BaseView] = field(default_factory=dict)  # its views, by lane
    work_skills: set[str] = field(default_factory=set)  # the skills of its items' estimates
    work_tracks: set[str] = field(default_factory=set)  # its items' tracks
    groups: dict[str, tuple[list[int], list]] = field(default_factory=dict)  # forecast's


@dataclass
class Replanned:
    """A what-if's plan, which of its views are the base's, and its layout (None: planned whole)."""

    plan: dict[str, Any]
    same: set[str]  # tracks whose view is the base's view
    lay: Layout | None
    # per track replanned lane by lane: the rows that are not the base's row objects
    aligned: dict[str, list[int]] = field(default_factory=dict)


def _inputs(lay: Layout, staff: Sequence[Person]) -> dict[str, tuple[list, list, bool]]:
    """Per track (All first): the items, the people and whether people are pooled."""
    out = {ALL: (lay.works, list(staff), True)}
    for track in lay.tracks:
        out[track] = (lay.works_by_track[track], lay.people_by_track[track], False)
    return out


def _same(a: Sequence[Any], b: Sequence[Any]) -> bool:
    """The same objects in the same order."""
    return a is b or (len(a) == len(b) and all(map(operator.is_, a, b)))


def _in_place(a: Sequence[Any], b: Sequence[Any]) -> bool:
    """The same items in the same rows, some maybe prepared again (an edited item)."""
    if len(a) != len(b):
        return False
    return all(x is y or x.id == y.id for x, y in zip(a, b, strict=True))


def _draws(lay: Layout) -> list[tuple[str, tuple[str, ...]]]:
    """The random draws a forecast makes, in order: per item, its scheduled skills."""
    return [(work.id, tuple(work.effort or ())) for work in lay.works]


def prepare(
    model: Model,
    estimates: Mapping[str, Any] | None = None,
    runs: int = 0,
    spread: float = 1.0,
    seed: int = 0,
) -> Prepared:
    """Plan ``model`` (and forecast it with ``runs`` runs, when not 0) for what-ifs on it."""
    lay = layout(model)
    ranked = sorted(model.work, key=attrgetter("rank"))  # the order layout keeps
    by_item = {id(item): work for item, work in zip(ranked, lay.works, strict=True)}
    prepared = Prepared(model, lay, compute_plan(model), by_item, estimates, runs, spread, seed)
    prepared.work_skills = {skill for item in model.work for skill, _ in item.estimate}
    prepared.work_tracks = {item.track for item in model.work}
    for track, (works, people, _) in _inputs(lay, model.staff).items():
        view = prepared.plan["by_track"][track]
        prepared.views[track] = base_view(
            works, people, lay.skills, lay.scheduled, lay.calendar, view
        )
    if runs:
        prepared.factors = factors_for(lay, estimates, runs, spread, seed)
        prepared.draws = _draws(lay)
        prepared.forecast = {}
        prepared.groups = forecast_groups(lay, model.staff)
        for track, (at, people) in prepared.groups.items():
            made = view_forecast(lay, at, people, prepared.factors, runs, keep=True)
            prepared.forecast[track], prepared.runs_of[track] = {"items": made.items}, made
    return prepared


def _prepared_items(items: list[Item], model: Model, skills: list[str]) -> dict[int, Any]:
    """The prepared form of ``items`` exactly as ``layout`` of the whole model makes it."""
    # One person per skill, so that the small model has the whole model's skills (and so
    # filters efforts to the scheduled skills the same way).
    staff = [Person(f"skill-{n}", f"skill-{n}", "", ALL, skill) for n, skill in enumerate(skills)]
    small = layout(Model(model.params, tuple(model.holidays), staff, items))
    ranked = sorted(items, key=attrgetter("rank"))
    return {id(item): work for item, work in zip(ranked, small.works, strict=True)}


def scenario_layout(prepared: Prepared, scenario: Model) -> Layout | None:
    """The layout of ``scenario`` built from the base's, or None when every view changes."""
    base, lay = prepared.model, prepared.lay
    if scenario.params != base.params or tuple(scenario.holidays) != tuple(base.holidays):
        return None
    same_work = _same(scenario.work, base.work)
    if same_work:  # the items' skills and tracks are the base's: only the staff's to add
        skills = sorted(
            {p.skill for p in scenario.staff}
            | prepared.work_skills
            | set(scenario.params.scheduled)
        )
    else:
        skills = plan_skills(scenario)
    if skills != lay.skills:
        return None
    if same_work:
        works = lay.works
    else:
        known = prepared.by_item
        fresh = [item for item in scenario.work if id(item) not in known]
        made = _prepared_items(fresh, scenario, skills) if fresh else {}
        ranked = sorted(scenario.work, key=attrgetter("rank"))
        works = [known.get(id(item)) or made[id(item)] for item in ranked]
    work_tracks = prepared.work_tracks if same_work else {i.track for i in scenario.work}
    tracks = sorted(({p.track for p in scenario.staff} | work_tracks) - {ALL})
    if works is lay.works and tracks == lay.tracks:
        works_by_track = lay.works_by_track
    else:
        works_by_track = {track: [] for track in tracks}
        for work in works:
            works_by_track.get(work.track, []).append(work)
    people_by_track: dict[str, list[Person]] = {track: [] for track in tracks}
    for person in scenario.staff:
        people_by_track.get(person.track, []).append(person)
    return Layout(
        skills, lay.scheduled, lay.calendar, works, tracks, works_by_track, people_by_track
    )


def scenario_views(prepared: Prepared, scenario: Model) -> Replanned:
    """What the views of ``scenario`` start from, before any is planned (``plan`` None):
    its layout (None: every view changes) and the tracks whose view is the base's. It is
    all ``reforecast`` needs, so a what-if's forecast may run beside its plan."""
    lay = scenario_layout(prepared, scenario)
    if lay is None:
        return Replanned({}, set(), None)
    base_inputs = _inputs(prepared.lay, prepared.model.staff)
    same = set()
    for track, (works, people, _) in _inputs(lay, scenario.staff).items():
        was = base_inputs.get(track)
        if was is not None and _same(was[0], works) and _same(was[1], people):
            same.add(track)
    return Replanned({}, same, lay)


def replan(prepared: Prepared, scenario: Model, start: Replanned | None = None) -> Replanned:
    """The plan of ``scenario`` (a what-if on ``prepared``), equal to ``compute_plan``'s;
    ``start``: its ``scenario_views``, when made already."""
    start = start if start is not None else scenario_views(prepared, scenario)
    lay, same = start.lay, start.same
    if lay is None:
        return Replanned(compute_plan(scenario), set(), None)
    base_inputs = _inputs(prepared.lay, prepared.model.staff)
    by_track: dict[str, Any] = {}
    aligned: dict[str, list[int]] = {}
    for track, (works, people, pooled) in _inputs(lay, scenario.staff).items():
        was = base_inputs.get(track)
        if track in same:
            by_track[track] = prepared.plan["by_track"][track]
        elif was is not None and prepared.views[track].unique and _in_place(was[0], works):
            # its people, or items edited in place, changed (its rows told apart by id)
            base = prepared.views[track]
            by_track[track], aligned[track] = replan_view(
                base, people, lay.skills, lay.scheduled, lay.calendar, pooled, works
            )
        else:
            by_track[track] = _view(works, people, lay.skills, lay.scheduled, lay.calendar, pooled)
    plan = {
        "params": prepared.plan["params"],
        "skills": lay.skills,
        "triages": prepared.plan["triages"],
        "tracks": [ALL, *lay.tracks],
        "by_track": by_track,
    }
    return Replanned(plan, same, lay, aligned)


def _groups(prepared: Prepared, lay: Layout, staff) -> dict[str, tuple[list[int], list]]:
    """``montecarlo.groups`` of the what-if: the base's item indexes when its items are."""
    if lay.works is not prepared.lay.works or lay.tracks != prepared.lay.tracks:
        return forecast_groups(lay, staff)
    out = {ALL: (prepared.groups[ALL][0], list(staff))}
    for track in lay.tracks:
        out[track] = (prepared.groups[track][0], lay.people_by_track[track])
    return out


def reforecast(
    prepared: Prepared,
    scenario: Model,
    replanned: Replanned,
    tracks: set[str] | None = None,
    remade: dict[str, list[str] | None] | None = None,
) -> dict[str, Any]:
    """The forecast of ``scenario``, equal to ``montecarlo.forecast``'s with the base's
    estimates, runs, spread and seed; ``tracks`` (None: all) limits the tracks computed.
    ``remade``, when given, gets per track the items whose summary may differ from the
    base's (None: any; a reused track is not named)."""
    runs, spread, seed = prepared.runs, prepared.spread, prepared.seed
    lay = replanned.lay
    if lay is None or prepared.forecast is None:
        whole = full_forecast(scenario, prepared.estimates, runs, spread, seed)
        if tracks is not None:
            whole["by_track"] = {t: v for t, v in whole["by_track"].items() if t in tracks}
        return whole
    # The same draws: the base's factors, its unchanged views and the unchanged lanes of
    # the others (``montecarlo.ViewRuns``) are this forecast's too.
    same_draws = lay.works is prepared.lay.works or _draws(lay) == prepared.draws
    if same_draws:
        factors, reuse = prepared.factors, replanned.same
    else:
        factors, reuse = factors_for(lay, prepared.estimates, runs, spread, seed), set()
    by_track = {}
    for track, (at, people) in _groups(prepared, lay, scenario.staff).items():
        if tracks is not None and track not in tracks:
            continue
        if track in reuse:
            by_track[track] = prepared.forecast[track]
        else:
            lanes = prepared.runs_of.get(track) if same_draws else None
            made = view_forecast(lay, at, people, factors, runs, lanes)
            by_track[track] = {"items": made.items}
            if remade is not None:
                remade[track] = made.remade
    return document(runs, spread, seed, by_track)
