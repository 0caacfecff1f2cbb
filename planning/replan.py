"""A what-if's plan and forecast from its base's, recomputing only the views the edits change.

``compute_plan`` plans the synthetic track All and every track each with
``planner._view(works, people, skills, scheduled, calendar, pooled)``; the
forecast runs the schedule per track the same way. A view depends on nothing
else, so a view whose inputs are those of the base — the same prepared items
(the same objects, in the same order), the same people, skills, scheduled
skills and calendar — is the base's view, reused as it is; its forecast too
(an item's random factors depend on its id and skills only, ``planning.draws``:
the base's are taken for every item the what-if keeps).

An edit of the quarter, the holidays, the scheduled skills or the skills
themselves changes every view: the what-if is then planned whole. Items the
edits did not touch keep their prepared form (``planner.Layout.works``);
edited ones are prepared again, by ``planner.layout`` of a model of just them.

The result equals ``compute_plan(scenario)`` and ``forecast(scenario, ...)``
exactly (``tests/test_replan.py`` checks it on random models and edits).
A changed view whose items are told apart by id (as the base's are) is replanned lane
by lane (``planning.lanes``) — its people changed (the usual "add two Web engineers"),
an item's estimate, triage or rank was edited, an item joined or left it (its track
edited): a skill's lane in the greedy schedule does not depend on the others, so only
the lanes whose people or items changed are scheduled again, those of edited items
from the row the edit changes on (an edit at rank r changes nothing above r), and
only the rows that can move made again. The forecast's lanes do the same
(``montecarlo.LaneRuns``) when the view keeps its items; one that gains or loses an
item runs its lanes again from the first row that differs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from formats.streams import Item, Model, Person
from planning.delta import Rows
from planning.draws import draw_keys, factors_for, item_factors
from planning.lanes import BaseView, base_view, replan_view
from planning.montecarlo import ViewRuns, document, same_objects, view_forecast
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
    factors: list[dict[str, Any]] = field(default_factory=list)  # per item (rank order)
    factor_of: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)  # by key
    key_of: dict[int, tuple[str, int]] = field(default_factory=dict)  # id(_Work) -> its key
    factors_by_work: dict[int, dict[str, Any]] = field(default_factory=dict)  # id(_Work) ->
    repeated: bool = False  # some item id is repeated (a key with a count above 0)
    forecast: dict[str, Any] | None = None  # its tracks' forecasts (by_track)
    runs_of: dict[str, ViewRuns] = field(default_factory=dict)  # its tracks' runs, by lane
    views: dict[str, BaseView] = field(default_factory=dict)  # its views, by lane
    skill_uses: dict[str, int] = field(default_factory=dict)  # skill -> items estimating it
    track_uses: dict[str, int] = field(default_factory=dict)  # track -> its items
    rank_of: list[int] = field(default_factory=list)  # per item (sheet order): its rank row
    groups: dict[str, tuple[list[int], list]] = field(default_factory=dict)  # forecast's


@dataclass
class Replanned:
    """A what-if's plan, which of its views are the base's, and its layout (None: planned whole)."""

    plan: dict[str, Any]
    same: set[str]  # tracks whose view is the base's view
    lay: Layout | None
    # per track replanned lane by lane: the rows that are not the base's row objects, with
    # their patches (``planning.delta.Rows``)
    aligned: dict[str, Rows] = field(default_factory=dict)
    kept: bool = False  # its items are in the base's rank order and tracks (some edited)
    # per track looked at: each row's row in the base's view (-1: an item the base view
    # has not), when ids tell the items apart (None: they do not)
    origins: dict[str, list[int] | None] = field(default_factory=dict)
    # per track replanned lane by lane in another order, or with items gone or new: the
    # positions of the rows that are not the base's row objects, each row's row in the base
    reordered: dict[str, tuple[Rows, list[int]]] = field(default_factory=dict)

    def origins_of(self, prepared: Prepared, track: str, works: Sequence[Any]):
        """``origins`` of one track (``works``: its items), found once."""
        if track not in self.origins:
            base = prepared.views.get(track)
            self.origins[track] = None if base is None else _origins(base, works)
        return self.origins[track]


def _inputs(lay: Layout, staff: Sequence[Person]) -> dict[str, tuple[list, list, bool]]:
    """Per track (All first): the items, the people and whether people are pooled."""
    out = {ALL: (lay.works, list(staff), True)}
    for track in lay.tracks:
        out[track] = (lay.works_by_track[track], lay.people_by_track[track], False)
    return out


def _in_place(a: Sequence[Any], b: Sequence[Any]) -> bool:
    """The same items in the same rows, some maybe prepared again (an edited item)."""
    if len(a) != len(b):
        return False
    return all(x is y or x.id == y.id for x, y in zip(a, b, strict=True))


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
    prepared.skill_uses = Counter(s for item in model.work for s in {s for s, _ in item.estimate})
    prepared.track_uses = Counter(item.track for item in model.work)
    rows = {id(item): row for row, item in enumerate(ranked)}
    prepared.rank_of = [rows[id(item)] for item in model.work]
    for track, (works, people, _) in _inputs(lay, model.staff).items():
        view = prepared.plan["by_track"][track]
        prepared.views[track] = base_view(
            works, people, lay.skills, lay.scheduled, lay.calendar, view
        )
    if runs:
        prepared.factors = factors_for(lay, estimates, runs, spread, seed)
        keys = draw_keys(lay.works)
        prepared.factor_of = dict(zip(keys, prepared.factors, strict=True))
        prepared.key_of = {id(work): key for work, key in zip(lay.works, keys, strict=True)}
        prepared.factors_by_work = {
            id(work): made for work, made in zip(lay.works, prepared.factors, strict=True)
        }
        prepared.repeated = any(n for _, n in keys)
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


def _origins(base: BaseView, works: Sequence[Any]) -> list[int] | None:
    """Each of ``works``' rows in ``base`` (told apart by id; -1: an item the base view
    has not), when the ids are unique on both sides; else None."""
    if not base.unique or not works:
        return None
    row_of = base.row_of
    origins = [row_of.get(work.id, -1) for work in works]
    if len({work.id for work in works}) < len(works):
        return None
    return origins


def _permutation(origins: list[int] | None, base: ViewRuns | None) -> list[int] | None:
    """``origins`` when its rows are the base's rows in another order, else None."""
    if origins is None or base is None or len(origins) != len(base.works) or -1 in origins:
        return None
    return origins


def _replaced(scenario: Sequence[Item], base: Sequence[Item]) -> list[int] | None:
    """The positions of the items ``scenario`` replaced in ``base``'s list, when each kept
    its rank (the rank order is then the base's); None when it did not, or the lists differ
    in length."""
    if len(scenario) != len(base):
        return None
    changed = [n for n, (now, was) in enumerate(zip(scenario, base, strict=True)) if now is not was]
    if any(scenario[n].rank != base[n].rank for n in changed):
        return None
    return changed


def _counted(uses: Mapping[str, int], before: Sequence[set[str]], after: Sequence[set[str]]):
    """The names ``uses`` counts (per name, the items that have it) still used once the
    items' names ``before`` became ``after``."""
    moved: dict[str, int] = {}
    for names in before:
        for name in names:
            moved[name] = moved.get(name, uses.get(name, 0)) - 1
    for names in after:
        for name in names:
            moved[name] = moved.get(name, uses.get(name, 0)) + 1
    kept = {name for name in uses if moved.get(name, 1) > 0}
    return kept | {name for name, count in moved.items() if count > 0}


def scenario_layout(prepared: Prepared, scenario: Model) -> tuple[Layout | None, bool]:
    """The layout of ``scenario`` built from the base's (None when every view changes), and
    whether its items keep the base's rank order and tracks (some maybe edited in place)."""
    base, lay = prepared.model, prepared.lay
    if scenario.params != base.params or tuple(scenario.holidays) != tuple(base.holidays):
        return None, False
    same_work = same_objects(scenario.work, base.work)
    replaced = [] if same_work else _replaced(scenario.work, base.work)
    if replaced is None:
        skills = plan_skills(scenario)
        work_tracks = {item.track for item in scenario.work}
    else:  # the items' skills and tracks are the base's, but for the replaced ones
        old = [base.work[n] for n in replaced]
        new = [scenario.work[n] for n in replaced]
        work_skills = _counted(
            prepared.skill_uses,
            [{s for s, _ in item.estimate} for item in old],
            [{s for s, _ in item.estimate} for item in new],
        )
        work_tracks = _counted(
            prepared.track_uses, [{item.track} for item in old], [{item.track} for item in new]
        )
        staff_skills = {p.skill for p in scenario.staff}
        skills = sorted(staff_skills | work_skills | set(scenario.params.scheduled))
    if skills != lay.skills:
        return None, False
    kept = replaced is not None and all(
        scenario.work[n].track == base.work[n].track for n in replaced
    )
    if same_work:
        works = lay.works
    else:
        known = prepared.by_item
        fresh = [item for item in scenario.work if id(item) not in known]
        made = _prepared_items(fresh, scenario, skills) if fresh else {}
        if replaced is None:
            ranked = sorted(scenario.work, key=attrgetter("rank"))
            works = [known.get(id(item)) or made[id(item)] for item in ranked]
        else:
            works = list(lay.works)
            for n in replaced:
                item = scenario.work[n]
                works[prepared.rank_of[n]] = known.get(id(item)) or made[id(item)]
    tracks = sorted(({p.track for p in scenario.staff} | work_tracks) - {ALL})
    if works is lay.works and tracks == lay.tracks:
        works_by_track = lay.works_by_track
    elif kept and tracks == lay.tracks:  # the base's lists, the replaced items put in
        works_by_track = dict(lay.works_by_track)
        for n in replaced:
            was, now = lay.works[prepared.rank_of[n]], works[prepared.rank_of[n]]
            rows = works_by_track[was.track] = list(works_by_track[was.track])
            rows[next(r for r, work in enumerate(rows) if work is was)] = now
    else:
        works_by_track = {track: [] for track in tracks}
        for work in works:
            works_by_track.get(work.track, []).append(work)
    people_by_track: dict[str, list[Person]] = {track: [] for track in tracks}
    for person in scenario.staff:
        people_by_track.get(person.track, []).append(person)
    made_lay = Layout(
        skills, lay.scheduled, lay.calendar, works, tracks, works_by_track, people_by_track
    )
    return made_lay, kept and tracks == lay.tracks


def scenario_views(prepared: Prepared, scenario: Model) -> Replanned:
    """What the views of ``scenario`` start from, before any is planned (``plan`` None):
    its layout (None: every view changes) and the tracks whose view is the base's. It is
    all ``reforecast`` needs, so a what-if's forecast may run beside its plan."""
    lay, kept = scenario_layout(prepared, scenario)
    if lay is None:
        return Replanned({}, set(), None)
    base_inputs = _inputs(prepared.lay, prepared.model.staff)
    same = set()
    for track, (works, people, _) in _inputs(lay, scenario.staff).items():
        was = base_inputs.get(track)
        if was is not None and same_objects(was[0], works) and same_objects(was[1], people):
            same.add(track)
    return Replanned({}, same, lay, kept=kept)


def replan(prepared: Prepared, scenario: Model, start: Replanned | None = None) -> Replanned:
    """The plan of ``scenario`` (a what-if on ``prepared``), equal to ``compute_plan``'s;
    ``start``: its ``scenario_views``, when made already."""
    start = start if start is not None else scenario_views(prepared, scenario)
    lay, same = start.lay, start.same
    if lay is None:
        return Replanned(compute_plan(scenario), set(), None)
    base_inputs = _inputs(prepared.lay, prepared.model.staff)
    by_track: dict[str, Any] = {}
    aligned: dict[str, Rows] = {}
    reordered: dict[str, tuple[Rows, list[int]]] = {}
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
        elif was is not None and (origins := start.origins_of(prepared, track, works)):
            # the base's items in another order (a rank edited), some maybe gone or new
            # (a track edited)
            base = prepared.views[track]
            by_track[track], changed = replan_view(
                base, people, lay.skills, lay.scheduled, lay.calendar, pooled, works, origins
            )
            reordered[track] = (changed, origins)
        else:
            by_track[track] = _view(works, people, lay.skills, lay.scheduled, lay.calendar, pooled)
    plan = {
        "params": prepared.plan["params"],
        "skills": lay.skills,
        "triages": prepared.plan["triages"],
        "tracks": [ALL, *lay.tracks],
        "by_track": by_track,
    }
    return Replanned(plan, same, lay, aligned, start.kept, start.origins, reordered)


def _groups(
    prepared: Prepared, lay: Layout, staff, kept: bool, tracks: set[str] | None
) -> dict[str, tuple[list[int], list]]:
    """``montecarlo.groups`` of the what-if (``tracks``: only those): the base's item
    indexes when its items are in the base's order and tracks (``kept``)."""
    if not kept:
        return forecast_groups(lay, staff, tracks)
    out = {}
    for track in [ALL, *lay.tracks]:
        if tracks is None or track in tracks:
            people = list(staff) if track == ALL else lay.people_by_track[track]
            out[track] = (prepared.groups[track][0], people)
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
    # The base's factors for the items it has, its unchanged views and the unchanged lanes
    # of the others (``montecarlo.ViewRuns``) are this forecast's too; unless an item the
    # base has drew otherwise (its id repeated, and the order of those items changed).
    same_draws = True
    if lay.works is prepared.lay.works:
        factors = prepared.factors
    elif not prepared.repeated:  # (no id repeated: an item's key is its id, 0)
        of = prepared.factors_by_work
        factors = [of.get(id(work)) for work in lay.works]
        fresh = [n for n, found in enumerate(factors) if found is None]
        works = [lay.works[n] for n in fresh]
        drawn = item_factors(
            works, [(work.id, 0) for work in works], prepared.estimates, runs, spread, seed,
            prepared.factor_of,
        )  # fmt: skip
        for n, made in zip(fresh, drawn, strict=True):
            factors[n] = made
    else:
        keys = draw_keys(lay.works)  # an id repeated: the same items' keys may differ
        known = prepared.factor_of
        factors = item_factors(lay.works, keys, prepared.estimates, runs, spread, seed, known)
        key_of = prepared.key_of
        same_draws = all(
            key_of.get(id(work), key) == key for work, key in zip(lay.works, keys, strict=True)
        )
    reuse = replanned.same if same_draws else set()
    by_track = {}
    kept = replanned.kept
    for track, (at, people) in _groups(prepared, lay, scenario.staff, kept, tracks).items():
        if track in reuse:
            by_track[track] = prepared.forecast[track]
        else:
            lanes = prepared.runs_of.get(track) if same_draws else None
            origins = None
            if lanes is not None and not kept:  # the base's items in another order?
                works = lay.works if track == ALL else lay.works_by_track[track]
                origins = _permutation(replanned.origins_of(prepared, track, works), lanes)
            in_place = lanes is not None and (kept or origins is not None)
            made = view_forecast(
                lay, at, people, factors, runs, lanes, in_place=in_place, origins=origins
            )
            by_track[track] = {"items": made.items}
            if remade is not None:
                remade[track] = made.remade
    return document(runs, spread, seed, by_track)
