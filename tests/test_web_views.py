"""The web's pure logic: the plan page's view of a track and triage, and plan diffs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.examples import worked_plan
from web.plandiff import diff_plans, item_marks, same_shortage
from web.views import BadTriage, UnknownTrack, parse_triage, plan_view, track_counts

WORKED_EXAMPLE = Path(__file__).parent / "fixtures" / "worked_example.streams"


def row(view: dict, name: str) -> dict:
    return next(item for item in view["work"] if item["name"] == name)


# -- views ---------------------------------------------------------------------------


def test_staffing_is_in_people_with_net_at_the_triage_level():
    view = plan_view(worked_plan(), "Track2", "2.5")
    staffing = {s["skill"]: s for s in view["staffing"]}
    # Track2 has 10.6 man-weeks of Apps over 11 weeks; demand at 2.5 is 30.
    assert staffing["Apps"]["available"] == pytest.approx(0.96)
    assert staffing["Apps"]["required"] == pytest.approx(2.73)
    assert staffing["Apps"]["net"] == pytest.approx(-1.77)
    assert staffing["Apps"]["short"] is True
    assert staffing["QA"] == {
        "skill": "QA",
        "available": 0.0,
        "required": 0.09,
        "net": -0.09,
        "short": True,
        "manpower_weeks": 0.0,
        "demand_weeks": 1.0,
    }
    assert "Native" not in staffing  # neither people nor demand on this track


def test_a_net_of_exactly_zero_counts_as_short():
    plan = worked_plan()
    plan["by_track"]["Track1"]["manpower"]["Apps"] = 3
    view = plan_view(plan, "Track1", 1)
    apps = next(s for s in view["staffing"] if s["skill"] == "Apps")
    assert apps["net"] == 0 and apps["short"] is True
    native = next(s for s in view["staffing"] if s["skill"] == "Native")
    assert native["short"] is False


def test_work_table_puts_items_beyond_the_cut_after_the_ones_inside():
    view = plan_view(worked_plan(), "All", 1.5)
    names = [(item["name"], item["in_cut"]) for item in view["work"]]
    assert names == [
        ("Search", True),
        ("Login flow", True),
        ("Settings page", True),
        ("Push notifications", False),
        ("Big rewrite", False),
        ("No estimate item", False),
    ]
    assert view["counts"] == {"in_cut": 3, "total": 6, "dnf": 2}
    assert row(view, "Big rewrite")["dnf"] is True


def test_rank_ties_keep_the_plans_order_and_blank_triage_is_three():
    plan = worked_plan()
    work = plan["by_track"]["Track1"]["work"]
    work[0]["rank"] = work[1]["rank"] = 7
    del work[2]["triage"]
    view = plan_view(plan, "Track1", 2.5)
    assert [i["name"] for i in view["work"]] == [
        "Login flow",
        "Push notifications",
        "No estimate item",
    ]
    assert view["work"][2]["in_cut"] is False


def test_chart_compares_demand_at_the_cut_with_the_shortage_inside_it():
    view = plan_view(worked_plan(), "Track2", 3)
    assert view["chart"] == {
        "skills": ["Apps", "QA", "Web"],
        "demand": [30.0, 1.0, 25.5],
        "shortage": [19.4, 1.0, 14.9],
    }
    narrow = plan_view(worked_plan(), "Track2", 1)
    assert narrow["chart"] == {"skills": ["Web"], "demand": [1.5], "shortage": [0.0]}


def test_view_carries_tracks_staff_problems_and_lineage():
    plan = worked_plan()
    plan["problems"].append({"severity": "fatal", "sheet": "work", "message": "unreadable"})
    view = plan_view(plan)
    assert view["track"] == "All" and view["triage"] == 3.0
    assert view["tracks"] == [
        {"name": "All", "items": 6},
        {"name": "Track1", "items": 3},
        {"name": "Track2", "items": 3},
    ]
    assert view["staff"]["Apps"] == ["Alice", "Dan"]
    assert len(view["problems"]) == 2
    assert [p["message"] for p in view["fatal"]] == ["unreadable"]
    assert view["lineage"]["raw"] == "a" * 40


@pytest.mark.parametrize("value", ["x", "0.5", "3.5", "nan", "inf", "-1", "1e9"])
def test_bad_triage_is_refused(value):
    with pytest.raises(BadTriage):
        plan_view(worked_plan(), "All", value)


@pytest.mark.parametrize(
    ("value", "level"), [(None, 3.0), ("", 3.0), ("1", 1.0), ("1.2", 1.5), ("2.6", 3.0), (2, 2.0)]
)
def test_triage_rounds_up_to_a_level(value, level):
    assert parse_triage(value) == level


def test_unknown_track_is_refused_with_the_known_ones():
    with pytest.raises(UnknownTrack) as caught:
        plan_view(worked_plan(), "Nope", 2)
    assert caught.value.status == 404
    assert "Track1" in str(caught.value)


def test_an_empty_plan_still_makes_a_view():
    plan = {"tracks": ["All"], "by_track": {"All": {}}, "params": {"num_weeks": 0}}
    view = plan_view(plan)
    assert view["work"] == [] and view["staffing"] == []
    assert track_counts(plan) == [{"name": "All", "items": 0}]


# -- plan diffs ---------------------------------------------------------------------------


def test_identical_plans_have_no_changes():
    diff = diff_plans(worked_plan(), worked_plan())
    assert diff["count"] == 0
    assert all(not found for found in diff["items"].values())


def test_diff_finds_moved_added_removed_and_edited_items():
    old, new = worked_plan(), worked_plan()
    track1 = new["by_track"]["Track1"]["work"]
    track1[1]["end"] = "2013-12-10"  # Push notifications moved
    track1[0]["name"] = "Login flow v2"  # renamed, same outcome
    del track1[2]  # No estimate item removed
    track1.append(
        {"id": "W60", "rank": 60, "name": "New", "triage": 2, "track": "Track1", "end": None,
         "estimate": {"Apps": 1}, "shortage": {"Apps": -1}}
    )  # fmt: skip
    new["by_track"]["Track2"]["work"][2]["shortage"]["Apps"] = -19.0
    diff = diff_plans(old, new)
    moved = {(m["track"], m["name"]): m for m in diff["items"]["moved"]}
    assert set(moved) == {("Track1", "Push notifications"), ("Track2", "Big rewrite")}
    push = moved[("Track1", "Push notifications")]
    assert push["before"]["end"] == "2013-12-05" and push["after"]["end"] == "2013-12-10"
    assert [(a["track"], a["name"]) for a in diff["items"]["added"]] == [("Track1", "New")]
    assert [(r["track"], r["name"]) for r in diff["items"]["removed"]] == [
        ("Track1", "No estimate item")
    ]
    edited = diff["items"]["edited"]
    assert [(e["name"], list(e["fields"])) for e in edited] == [("Login flow v2", ["name"])]


def test_diff_reports_staffing_per_track_and_skill():
    old, new = worked_plan(), worked_plan()
    new["by_track"]["Track2"]["manpower"]["Web"] = 31.8
    new["by_track"]["Track2"]["staff"]["Web"] = ["Carol", "New Web 1", "New Web 2"]
    new["by_track"]["Track1"]["staff"]["QA"] = []
    diff = diff_plans(old, new)
    assert diff["staffing"] == [
        {"track": "Track1", "skill": "QA", "before": 10.6, "after": 10.6,
         "joined": [], "left": ["Eve"]},
        {"track": "Track2", "skill": "Web", "before": 10.6, "after": 31.8,
         "joined": ["New Web 1", "New Web 2"], "left": []},
    ]  # fmt: skip


def test_diff_reports_quarter_and_track_changes():
    old, new = worked_plan(), worked_plan()
    new["params"]["end"] = "2013-12-27"
    new["tracks"].append("Track3")
    new["by_track"]["Track3"] = {"work": [], "manpower": {}, "staff": {}}
    diff = diff_plans(old, new)
    assert diff["params"] == {"end": {"before": "2013-12-20", "after": "2013-12-27"}}
    assert diff["tracks"] == {"added": ["Track3"], "removed": []}


def test_rounding_noise_is_not_a_change():
    assert same_shortage({"Apps": -1.0}, {"Apps": -1.001})
    assert same_shortage({}, {"Apps": 0})
    assert not same_shortage({"Apps": -1}, {"Apps": -1.5})


def test_item_marks_give_the_before_of_changed_items_only():
    old, new = worked_plan(), worked_plan()
    big = new["by_track"]["Track2"]["work"][2]
    big["end"], big["shortage"] = "2013-12-18", {}
    marks = item_marks(old, new, "Track2")
    assert marks == {
        "W40": {
            "before": {"end": None, "shortage": {"Apps": -19.4, "Web": -14.9}},
            "after": {"end": "2013-12-18", "shortage": {}},
        }
    }
    assert item_marks(old, new, "Track1") == {}
