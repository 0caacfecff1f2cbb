"""A what-if replanned from its base equals the what-if planned whole: plan, forecast, delta."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from formats.streams import parse_streams
from planning import montecarlo, skill_lane
from planning.delta import (
    apply_delta,
    apply_forecast_delta,
    changes_between,
    forecast_delta,
    plan_delta,
)
from planning.montecarlo import forecast
from planning.planner import compute_plan, plan_skills
from planning.replan import prepare, reforecast, replan
from planning.whatif import EditError, apply_edits, compare_plans
from tests.strategies import models
from tests.support import ROOT

RUNS, SPREAD, SEED = 3, 1.0, 11
OPS = (
    "add_people",
    "remove_person",
    "set_estimate",
    "set_rank",
    "set_triage",
    "set_track",
    "set_quarter",
    "set_scheduled_skills",
    "set_holidays",
)


@st.composite
def edits_for(draw, model):
    """One to three edits of any kind that name what ``model`` has."""
    skills = plan_skills(model) or ["Apps"]
    tracks = sorted({p.track for p in model.staff} | {i.track for i in model.work}) or ["T1"]
    items = [i.id for i in model.work] or ["W0"]
    people = [p.id for p in model.staff] or ["P0"]
    start = model.params.start
    day = st.integers(-5, 60).map(lambda n: (start + dt.timedelta(n)).isoformat())
    edits = []
    for op in draw(st.lists(st.sampled_from(OPS), min_size=1, max_size=3)):
        if op == "add_people":
            edit = {"skill": draw(st.sampled_from(skills)), "track": draw(st.sampled_from(tracks))}
            edit["count"] = draw(st.integers(1, 3))
            if draw(st.booleans()):
                edit["from"] = draw(day)
        elif op == "remove_person":
            edit = {"person": draw(st.sampled_from(people))}
        elif op == "set_estimate":
            parts = st.dictionaries(st.sampled_from(skills), st.sampled_from([0, 0.5, 1, 3, 9]))
            edit = {"item": draw(st.sampled_from(items)), "estimate": draw(parts)}
        elif op == "set_rank":
            edit = {"item": draw(st.sampled_from(items)), "rank": draw(st.integers(0, 25))}
        elif op == "set_triage":
            edit = {
                "item": draw(st.sampled_from(items)),
                "triage": draw(st.sampled_from([1, 2, 3])),
            }
        elif op == "set_track":
            edit = {"item": draw(st.sampled_from(items)), "track": draw(st.sampled_from(tracks))}
        elif op == "set_quarter":
            first = draw(day)
            edit = {"start": first, "end": draw(day.filter(lambda d, f=first: d >= f))}
        elif op == "set_scheduled_skills":
            edit = {"skills": draw(st.lists(st.sampled_from(skills), unique=True, max_size=3))}
        else:
            edit = {"dates": draw(st.lists(day, max_size=3))}
        edits.append({"op": op, **edit})
    return edits


def _round_trip(value):
    return json.loads(json.dumps(value))


@contextlib.contextmanager
def resume_often():
    """Keep a lane's state every 2 rows (the plan's and the forecast's), so small models
    resume mid-lane too."""
    kept = montecarlo.SNAP_EVERY, skill_lane.SNAP_EVERY
    montecarlo.SNAP_EVERY = skill_lane.SNAP_EVERY = 2
    try:
        yield
    finally:
        montecarlo.SNAP_EVERY, skill_lane.SNAP_EVERY = kept


@settings(max_examples=300, deadline=None)  # many paths: 6,000 pass when run by hand
@given(st.data())
def test_replan_equals_planning_the_scenario_whole(data):
    with resume_often():
        _replan_equals_planning_whole(data)


def _replan_equals_planning_whole(data):
    model = data.draw(models())
    if len(model.work) > 2 and data.draw(st.booleans()):  # an id the sheet repeats
        work = list(model.work)
        work[-1] = dataclasses.replace(work[-1], id=work[0].id)
        model = dataclasses.replace(model, work=work)
    edits = data.draw(edits_for(model))
    try:
        scenario = apply_edits(model, edits)
    except EditError:
        assume(False)
    prepared = prepare(model, None, RUNS, SPREAD, SEED)
    replanned = replan(prepared, scenario)
    whole = compute_plan(scenario)
    assert replanned.plan == whole
    remade: dict = {}
    predicted = reforecast(prepared, scenario, replanned, None, remade)
    assert predicted == forecast(scenario, None, RUNS, SPREAD, SEED)
    for track, own in predicted["by_track"].items():  # a track's forecast as a delta
        was = prepared.forecast.get(track)
        sent = _round_trip(forecast_delta(was, own))
        assert apply_forecast_delta(_round_trip(was or {}), sent) == _round_trip(own)
        if track in remade or track in replanned.same:
            assert forecast_delta(was, own, remade.get(track, [])) == forecast_delta(was, own)
    # the delta carries what changed, and rebuilds the what-if plan from the base's
    base = _round_trip(prepared.plan)
    told = replanned.aligned, replanned.reordered  # the rows that may differ
    delta, moved = plan_delta(prepared.plan, replanned.plan, replanned.same, *told)
    assert apply_delta(base, _round_trip(delta)) == _round_trip(whole)
    assert plan_delta(prepared.plan, replanned.plan, replanned.same)[0] == delta
    compared = compare_plans(prepared.plan, whole)
    assert changes_between(prepared.plan, replanned.plan, replanned.same) == compared
    assert changes_between(prepared.plan, replanned.plan, replanned.same, moved) == compared
    assert changes_between(prepared.plan, whole, replanned.same, moved, *told) == compared


@pytest.fixture
def example():
    return parse_streams((ROOT / "tests" / "fixtures" / "worked_example.streams").read_text())


def test_a_view_the_edits_do_not_touch_is_the_base_view(example):
    prepared = prepare(example, None, RUNS, SPREAD, SEED)
    edits = [{"op": "add_people", "skill": "Web", "track": "Track2", "count": 2}]
    replanned = replan(prepared, apply_edits(example, edits))
    assert replanned.same == {"Track1"}
    assert replanned.plan["by_track"]["Track1"] is prepared.plan["by_track"]["Track1"]
    delta, moved = plan_delta(prepared.plan, replanned.plan, replanned.same)
    assert set(moved) == {"All", "Track2"} and "Track1" not in moved
    assert delta["views"]["Track1"] is None and delta["views"]["Track2"] is not None


def test_a_whole_quarter_edit_plans_everything_again(example):
    prepared = prepare(example, None, RUNS, SPREAD, SEED)
    edits = [{"op": "set_holidays", "dates": ["2013-10-08"]}]
    replanned = replan(prepared, apply_edits(example, edits))
    assert replanned.same == set() and replanned.lay is None
