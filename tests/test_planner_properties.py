"""Properties of the planner on random models, and agreement with the day-by-day reference."""

from __future__ import annotations

import dataclasses
import json

from hypothesis import given
from hypothesis import strategies as st

from bench.reference_planner import domain_fields, reference_plan
from formats.streams import Item, format_streams, parse_streams
from planning.planner import (
    EPSILON,
    compute_plan,
    people_per_skill,
    plan_to_json,
    schedule,
    work_days,
)
from tests.strategies import FEW, SKILLS, TRACKS, models


def as_json(plan: dict) -> dict:
    return json.loads(plan_to_json(plan))


@FEW
@given(models())
def test_demand_never_falls_from_one_level_to_the_next(model):
    plan = compute_plan(model)
    for track in plan["tracks"]:
        levels = list(plan["by_track"][track]["demand"].values())
        for lower, higher in zip(levels, levels[1:], strict=False):
            for skill in plan["skills"]:
                assert higher[skill] >= lower[skill]


@FEW
@given(models())
def test_manpower_is_each_persons_work_days_over_five(model):
    plan = compute_plan(model)
    days = set(work_days(model.params.start, model.params.end, model.holidays))
    for track in plan["tracks"]:
        for skill in plan["skills"]:
            people = [p for p in model.staff if p.skill == skill and track in ("All", p.track)]
            expected = sum(len(days - set(p.vacation)) for p in people) / 5
            assert plan["by_track"][track]["manpower"][skill] == round(expected, 2)


@FEW
@given(models(), st.data())
def test_no_day_gives_more_than_it_has(model, data):
    days = work_days(model.params.start, model.params.end, model.holidays)
    people = [p for p in model.staff if p.track == data.draw(st.sampled_from(TRACKS))]
    capacity = people_per_skill(people, SKILLS, days)
    efforts = [dict(item.estimate) or None for item in model.work]
    result = schedule(len(days), capacity, efforts)
    assert len(result.ends) == len(efforts)
    for skill in SKILLS:
        for used, had in zip(result.used[skill], capacity[skill], strict=True):
            assert -EPSILON <= used <= had + EPSILON
    for end, effort in zip(result.ends, efforts, strict=True):
        if effort is None:
            assert end is None
        elif end is not None:
            assert 0 <= end < len(days)


@FEW
@given(models(), st.data())
def test_items_ranked_below_never_move_an_item(model, data):
    if not model.work:
        return
    before = compute_plan(model)
    pivot = data.draw(st.sampled_from(model.work)).rank
    changed = []
    for item in model.work:
        if item.rank > pivot:
            estimate = data.draw(st.sampled_from([(), (("Apps", 13.0),), (("Web", 0.5),)]))
            item = dataclasses.replace(item, estimate=estimate)
        changed.append(item)
    extra = [
        Item(f"X{n}", pivot + 1 + n, f"Extra {n}", (("Apps", 6.5), ("Web", 4.0)), 1.0, "T1")
        for n in range(data.draw(st.integers(0, 3)))
    ]
    after = compute_plan(dataclasses.replace(model, work=changed + extra))
    for track in before["tracks"]:
        old = {w["id"]: w for w in before["by_track"][track]["work"] if w["rank"] <= pivot}
        new = {w["id"]: w for w in after["by_track"][track]["work"] if w["rank"] <= pivot}
        assert old.keys() == new.keys()
        for item_id, item in old.items():
            moved = new[item_id]
            assert (item["end"], item["shortage"]) == (moved["end"], moved["shortage"])


@FEW
@given(models())
def test_the_planner_equals_the_reference(model):
    assert as_json(domain_fields(compute_plan(model))) == as_json(reference_plan(model))


@FEW
@given(models())
def test_streams_round_trip_plans_the_same(model):
    assert as_json(compute_plan(parse_streams(format_streams(model)))) == as_json(
        compute_plan(model)
    )


def test_the_planner_equals_the_reference_on_a_generated_input():
    from bench.planner_inputs import make_model

    model = make_model(400, 40, seed=7)
    assert plan_to_json(domain_fields(compute_plan(model))) == json.dumps(
        reference_plan(model), sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )
