"""What-if edits on the worked example: every kind, every way to get one wrong, the changes."""

from __future__ import annotations

import copy
import datetime as dt

import pytest

from formats.streams import parse_streams
from planning.planner import compute_plan
from planning.whatif import EditError, apply_edits, compare_plans
from tests.support import ROOT

FIXTURE = ROOT / "tests" / "fixtures" / "worked_example.streams"


@pytest.fixture
def model():
    return parse_streams(FIXTURE.read_text(encoding="utf-8"))


def item(model, item_id):
    return next(i for i in model.work if i.id == item_id)


def ends(plan, track):
    return {w["name"]: w["end"] for w in plan["by_track"][track]["work"]}


def test_no_edits_is_an_equal_copy(model):
    before = copy.deepcopy(model)
    scenario = apply_edits(model, [])
    assert scenario == model
    assert scenario.staff is not model.staff and scenario.work is not model.work
    assert model == before


def test_add_people_to_a_short_skill_turns_dnf_into_dates(model):
    before = compute_plan(model)
    assert ends(before, "Track2")["Big rewrite"] is None
    edits = [
        {"op": "add_people", "skill": "Apps", "track": "Track2", "count": 3},
        {"op": "add_people", "skill": "Web", "track": "Track2", "count": 2, "team": "Hires"},
    ]
    scenario = apply_edits(model, edits)
    new = [p for p in scenario.staff if p.name.startswith("New ")]
    assert [p.name for p in new] == [
        "New Apps engineer 1",
        "New Apps engineer 2",
        "New Apps engineer 3",
        "New Web engineer 1",
        "New Web engineer 2",
    ]
    assert len({p.id for p in scenario.staff}) == len(scenario.staff)
    assert all(p.track == "Track2" and p.vacation == () for p in new)
    assert new[-1].team == "Hires"
    after = compute_plan(scenario)
    assert ends(after, "Track2")["Big rewrite"] == "2013-12-06"
    assert after["by_track"]["Track2"]["manpower"]["Web"] == 31.8
    assert len(model.staff) == 5  # the input is untouched


def test_add_people_from_a_date_are_away_before_it(model):
    scenario = apply_edits(
        model,
        [{"op": "add_people", "skill": "Web", "track": "Track2", "count": 1, "from": "2013-12-16"}],
    )
    newcomer = scenario.staff[-1]
    assert newcomer.vacation[0] == dt.date(2013, 10, 7)
    assert newcomer.vacation[-1] == dt.date(2013, 12, 15)
    plan = compute_plan(scenario)
    assert plan["by_track"]["Track2"]["manpower"]["Web"] == 11.6  # 10.6 + 5 days


def test_numbers_continue_after_earlier_new_people(model):
    edit = {"op": "add_people", "skill": "QA", "track": "Track1", "count": 1}
    scenario = apply_edits(model, [edit, edit])
    assert [p.name for p in scenario.staff[-2:]] == ["New QA engineer 1", "New QA engineer 2"]


def test_remove_person_by_id_and_by_name(model):
    by_id = apply_edits(model, [{"op": "remove_person", "person": "P3"}])
    assert "Carol" not in [p.name for p in by_id.staff]
    by_name = apply_edits(model, [{"op": "remove_person", "person": "Carol"}])
    assert by_name.staff == by_id.staff
    plan = compute_plan(by_name)
    assert ends(plan, "Track2")["Search"] is None  # nobody does Web any more


def test_set_estimate_rank_triage_and_track(model):
    scenario = apply_edits(
        model,
        [
            {"op": "set_estimate", "item": "W40", "estimate": {"Apps": 3, "Web": 0.5}},
            {"op": "set_rank", "item": "W40", "rank": 1},
            {"op": "set_triage", "item": "W40", "triage": 1.2},
            {"op": "set_track", "item": "W50", "track": "Track2"},
        ],
    )
    rewrite = item(scenario, "W40")
    assert rewrite.estimate == (("Apps", 3.0), ("Web", 0.5))
    assert (rewrite.rank, rewrite.triage) == (1.0, 1.2)
    assert item(scenario, "W50").track == "Track2"
    assert item(model, "W40").rank == 40  # the input is untouched
    plan = compute_plan(scenario)
    assert plan["by_track"]["Track2"]["work"][0]["name"] == "Big rewrite"
    assert plan["by_track"]["Track2"]["work"][0]["triage"] == 1.5
    assert ends(plan, "Track2")["Big rewrite"] == "2013-10-25"


def test_set_quarter_scheduled_skills_and_holidays(model):
    scenario = apply_edits(
        model,
        [
            {"op": "set_quarter", "start": "2013-10-07", "end": "2013-10-25"},
            {"op": "set_scheduled_skills", "skills": ["Web"]},
            {"op": "set_holidays", "dates": ["2013-10-09", "2013-10-08", "2013-10-09"]},
        ],
    )
    assert (scenario.params.start, scenario.params.end) == (
        dt.date(2013, 10, 7),
        dt.date(2013, 10, 25),
    )
    assert scenario.params.scheduled == ("Web",)
    assert scenario.holidays == (dt.date(2013, 10, 8), dt.date(2013, 10, 9))
    plan = compute_plan(scenario)
    assert plan["params"]["num_weeks"] == 3
    assert ends(plan, "Track1")["Login flow"] == "2013-10-07"  # Apps/Native no longer scheduled
    assert ends(plan, "Track2")["Search"] == "2013-10-18"
    every = apply_edits(model, [{"op": "set_scheduled_skills", "skills": []}])
    assert compute_plan(every)["params"]["scheduled_skills"] == ["Apps", "Native", "QA", "Web"]


def test_arrival_follows_a_later_quarter_change(model):
    scenario = apply_edits(
        model,
        [
            {
                "op": "add_people",
                "skill": "Web",
                "track": "Track2",
                "count": 1,
                "from": "2013-10-09",
            },
            {"op": "set_quarter", "start": "2013-10-01", "end": "2013-10-31"},
        ],
    )
    away = scenario.staff[-1].vacation
    assert (away[0], away[-1]) == (dt.date(2013, 10, 1), dt.date(2013, 10, 8))


@pytest.mark.parametrize(
    "edit, words",
    [
        ({"op": "hire"}, ["edit 1 (hire)", "unknown op"]),
        ({"skill": "Web"}, ["edit 1", "unknown op"]),
        ("add_people", ["edit 1", "object"]),
        ({"op": "add_people", "skill": "Web", "track": "Track2"}, ["add_people", "'count'"]),
        ({"op": "add_people", "skill": "Cobol", "track": "Track2", "count": 1}, ["Cobol"]),
        ({"op": "add_people", "skill": "Web", "track": "Trak2", "count": 1}, ["Trak2"]),
        ({"op": "add_people", "skill": "Web", "track": "Track2", "count": 0}, ["'count'"]),
        ({"op": "add_people", "skill": "Web", "track": "Track2", "count": 1.5}, ["'count'"]),
        ({"op": "add_people", "skill": "Web", "track": "Track2", "count": True}, ["'count'"]),
        ({"op": "add_people", "skill": "Web", "track": "Track2", "count": 10**6}, ["'count'"]),
        (
            {"op": "add_people", "skill": "Web", "track": "Track2", "count": 1, "from": "soon"},
            ["'from'", "soon"],
        ),
        (
            {"op": "add_people", "skill": "Web", "track": "Track2", "count": 1, "form": "x"},
            ["unknown field 'form'"],
        ),
        (
            {"op": "add_people", "skill": "Web", "track": "Track2", "count": 1, "team": "a:b"},
            ["'team'"],
        ),
        ({"op": "remove_person", "person": "Zed"}, ["remove_person", "Zed"]),
        ({"op": "remove_person"}, ["missing field 'person'"]),
        ({"op": "set_estimate", "item": "W999", "estimate": {"Web": 1}}, ["unknown item", "W999"]),
        ({"op": "set_estimate", "item": "W40", "estimate": {"Web": -1}}, ["negative"]),
        ({"op": "set_estimate", "item": "W40", "estimate": {"Web": "lots"}}, ["not an estimate"]),
        ({"op": "set_estimate", "item": "W40", "estimate": {"Cobol": 1}}, ["Cobol"]),
        ({"op": "set_estimate", "item": "W40", "estimate": [1]}, ["'estimate'"]),
        ({"op": "set_rank", "item": "W40", "rank": "first"}, ["set_rank", "'rank'"]),
        ({"op": "set_rank", "item": "W41", "rank": 1}, ["W41"]),
        ({"op": "set_triage", "item": "W40", "triage": 4}, ["set_triage", "1 to 3"]),
        ({"op": "set_triage", "item": "W40", "triage": 0.5}, ["1 to 3"]),
        ({"op": "set_track", "item": "W40", "track": "Nowhere"}, ["Nowhere"]),
        ({"op": "set_quarter", "start": "2013-12-01", "end": "2013-10-01"}, ["before"]),
        ({"op": "set_quarter", "start": "2013-13-01", "end": "2014-01-01"}, ["'start'"]),
        ({"op": "set_quarter", "start": "2013-01-01", "end": "2019-01-01"}, ["days"]),
        ({"op": "set_scheduled_skills", "skills": ["Web", "Cobol"]}, ["Cobol"]),
        ({"op": "set_scheduled_skills", "skills": "Web"}, ["list"]),
        ({"op": "set_holidays", "dates": ["2013-02-30"]}, ["'dates'"]),
        ({"op": "set_holidays", "dates": "2013-10-08"}, ["list"]),
    ],
)
def test_a_bad_edit_is_named(model, edit, words):
    good = {"op": "set_rank", "item": "W10", "rank": 3}
    with pytest.raises(EditError) as caught:
        apply_edits(model, [good, edit])
    message = str(caught.value)
    assert message.startswith("edit 2")
    for word in words:
        assert word.replace("edit 1", "edit 2") in message
    assert item(model, "W10").rank == 10  # the good edit before it changed nothing


def test_edits_must_be_a_list(model):
    with pytest.raises(EditError, match="list"):
        apply_edits(model, {"op": "set_rank"})


def test_ambiguous_name_needs_the_id(model):
    twin = apply_edits(model, [{"op": "add_people", "skill": "Web", "track": "Track2", "count": 1}])
    twin.staff[-1] = type(twin.staff[-1])("P9", "Carol", "", "Track2", "Web")
    with pytest.raises(EditError, match="give the id"):
        apply_edits(twin, [{"op": "remove_person", "person": "Carol"}])
    assert len(apply_edits(twin, [{"op": "remove_person", "person": "P9"}]).staff) == 5


def test_compare_plans_lists_what_moved(model):
    before = compute_plan(model)
    assert compare_plans(before, before) == []
    edits = [
        {"op": "add_people", "skill": "Apps", "track": "Track2", "count": 3},
        {"op": "add_people", "skill": "Web", "track": "Track2", "count": 2},
        {"op": "set_track", "item": "W50", "track": "Track2"},
    ]
    after = compute_plan(apply_edits(model, edits))
    changes = compare_plans(before, after)
    keyed = {(c["track"], c["id"]): c for c in changes}
    rewrite = keyed[("Track2", "W40")]
    assert rewrite["name"] == "Big rewrite"
    assert rewrite["before"] == {"end": None, "shortage": {"Apps": -19.4, "Web": -14.9}}
    assert rewrite["after"] == {"end": "2013-12-06", "shortage": {}}
    assert keyed[("Track2", "W50")]["before"] is None  # moved in: added to Track2
    assert keyed[("Track1", "W50")]["after"] is None  # moved out: removed from Track1
    assert ("All", "W10") not in keyed  # Login flow did not move
    assert [c["track"] for c in changes] == sorted(
        (c["track"] for c in changes), key=["All", "Track1", "Track2"].index
    )


def test_estimates_in_a_what_if_are_written_as_in_the_workbook():
    model = parse_streams(FIXTURE.read_text(encoding="utf-8"))
    edit = {"op": "set_estimate", "item": "W40", "estimate": {"Apps": "M", "Web": "2-4w"}}
    item = next(i for i in apply_edits(model, [edit]).work if i.id == "W40")
    assert item.estimate == (("Apps", 2.0), ("Web", 3.0))
    xl = apply_edits(model, [{**edit, "estimate": {"Apps": "XL"}}], {"XL": 8.0})
    assert next(i for i in xl.work if i.id == "W40").estimate == (("Apps", 8.0),)
    with pytest.raises(EditError, match="not a size a plan can use"):
        apply_edits(model, [{**edit, "estimate": {"Apps": "TBD"}}])
