"""The plan page's insight: forecast columns, "why this date", load; the web following forecasts.

The pure functions are checked on hand-made items; the forecast follower against a
real snapshot service and a real web process (the test PUTs plan and forecast
commits itself, as the real stages would).
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.request
from pathlib import Path

import pytest

from tests.support import Proc, service_args, store_client, wait_for, wait_for_store, write_config
from web.insight import calendar, forecast_for, forecast_summary, load_view, why_line
from web.views import plan_view

PARAMS = {"start": "2013-10-07", "end": "2013-12-20", "holidays": ["2013-11-28", "2013-11-29"]}


def item(**fields) -> dict:
    base = {"id": "W1", "name": "Login flow", "rank": 10, "triage": 1, "track": "Track1"}
    return {**base, **fields}


def test_why_names_the_binding_skill_its_people_and_the_span() -> None:
    why = {
        "kind": "finishes_last",
        "skill": "Apps",
        "people": 1,
        "booked_days": 12,
        "vacation_days": 2,
        "holidays": 1,
    }
    line = why_line(
        item(start="2013-10-07", end="2013-10-25", binding="Apps", why=why), "Track1", PARAMS
    )
    assert line == (
        "Apps finishes last: Track1 has 1 Apps person, fully booked 12 work days from Oct 7 "
        "to Oct 25. 2 vacation days and 1 holiday in that span."
    )


def test_why_for_all_says_it_pools_every_track() -> None:
    why = {"kind": "finishes_last", "skill": "Web", "people": 3, "booked_days": 0}
    line = why_line(item(start="2013-10-07", end="2013-10-16", why=why), "All", PARAMS)
    assert line.startswith("Web finishes last: All (every track's people pooled) has 3 Web people")
    assert "holiday" not in line and "vacation" not in line


def test_why_for_a_dnf_item_names_the_skill_that_ran_out() -> None:
    why = {"kind": "ran_out", "skill": "Web", "people": 1, "booked_days": 50, "holidays": 2}
    line = why_line(item(start="2013-10-07", end=None, why=why), "Track2", PARAMS)
    assert line.startswith("DNF: Web ran out of days: Track2 has 1 Web person")
    assert "to the quarter's end (Dec 20)" in line and "2 holidays" in line


def test_why_without_people_or_estimate() -> None:
    nobody = {"kind": "ran_out", "skill": "QA", "people": 0}
    assert "Track2 has no QA people" in why_line(item(end=None, why=nobody), "Track2", PARAMS)
    unsized = why_line(item(end=None, why={"kind": "no_estimate"}), "Track1", PARAMS)
    assert unsized.startswith("Not sized yet")
    assert why_line(item(end=None, unsized=True), "Track1", PARAMS).startswith("Not sized yet")
    assert "first day" in why_line(item(why={"kind": "no_scheduled_effort"}), "Track1", PARAMS)
    assert why_line(item(), "Track1", PARAMS) == "The planner gave no reason for this date."


def test_load_marks_full_weeks_with_the_exact_share() -> None:
    track = {
        "load": {
            "weeks": ["2013-10-07", "2013-10-14", "2013-10-21"],
            "skills": {"Web": {"available": [10, 8, 0], "used": [10, 3, 0]}},
        }
    }
    view = load_view(track)
    cells = view["skills"][0]["cells"]
    assert [c["percent"] for c in cells] == [100.0, 37.5, None]
    assert [c["full"] for c in cells] == [True, False, False]
    assert load_view({}) == {"weeks": [], "skills": []}


def test_forecast_rows_and_summary() -> None:
    forecast = {
        "runs": 1000,
        "spread": 1.0,
        "lineage": {"conditioned": "c" * 40},
        "by_track": {"All": {"items": {"W1": {"p50": "2013-10-25", "p_in_quarter": 1.0}}}},
    }
    assert forecast_for(forecast, "All")["W1"]["p50"] == "2013-10-25"
    assert forecast_for(forecast, "Track1") == {} and forecast_for(None, "All") == {}
    plan = {"lineage": {"conditioned": "c" * 40}}
    assert forecast_summary(forecast, plan)["state"] == "current"
    assert forecast_summary(forecast, {"lineage": {"conditioned": "d" * 40}})["state"] == "other"
    assert forecast_summary(None, plan) == {"state": "none"}


def test_calendar_keeps_only_dates() -> None:
    cal = calendar({**PARAMS, "holidays": ["2013-11-28", "not a date"]}, dt.date(2013, 11, 1))
    assert cal == {
        "start": "2013-10-07",
        "end": "2013-12-20",
        "holidays": ["2013-11-28"],
        "today": "2013-11-01",
    }


def _plan(conditioned: str) -> dict:
    work = [
        item(end="2013-10-25", start="2013-10-07", estimate={"Apps": 3}, shortage={}),
        item(id="W2", name="Rewrite", rank=20, end=None, estimate={"Apps": 30}, shortage={}),
    ]
    return {
        "params": {**PARAMS, "num_weeks": 11, "scheduled_skills": ["Apps"]},
        "skills": ["Apps"],
        "triages": [1, 1.5, 2, 2.5, 3],
        "tracks": ["All", "Track1"],
        "by_track": {
            name: {
                "manpower": {"Apps": 10.6},
                "demand": {"3": {"Apps": 33}},
                "staff": {"Apps": ["Alice"]},
                "work": work,
                "leverage": [{"skill": "Apps", "dnf_to_date": 1, "days_pulled_in": 9}],
            }
            for name in ("All", "Track1")
        },
        "problems": [],
        "lineage": {"conditioned": conditioned, "raw": "a" * 40},
    }


def test_plan_view_carries_forecast_why_load_and_leverage() -> None:
    forecast = {
        "lineage": {"conditioned": "c" * 40},
        "by_track": {"Track1": {"items": {"W2": {"p50": None, "p_in_quarter": 0.0}}}},
    }
    view = plan_view(_plan("c" * 40), "Track1", None, forecast)
    rows = {row["id"]: row for row in view["work"]}
    assert rows["W2"]["forecast"] == {"p50": None, "p_in_quarter": 0.0}
    assert rows["W1"]["forecast"] is None
    assert rows["W1"]["why_text"] == "The planner gave no reason for this date."
    assert view["leverage"][0]["skill"] == "Apps"
    assert view["forecast"]["state"] == "current"
    assert view["calendar"]["holidays"] == PARAMS["holidays"]


@pytest.fixture
def store_and_web(tmp_path: Path):
    datasets = {"datasets": "raw, conditioned, plan, forecast"}
    config = write_config(tmp_path, {"snapshot_service": datasets})
    text = config.read_text()
    port = int(text.split("[web]")[1].split("port = ")[1].split()[0])
    procs = [
        Proc(service_args("snapshot_service", config), tmp_path / "store.out"),
        Proc(service_args("web", config), tmp_path / "web.out"),
    ]
    try:
        wait_for_store(config)
        yield config, f"http://127.0.0.1:{port}"
    finally:
        for proc in procs:
            proc.stop()


def _view(base: str, track: str = "Track1") -> dict | None:
    try:
        with urllib.request.urlopen(f"{base}/api/plan?track={track}", timeout=5) as response:
            return json.loads(response.read())
    except OSError:
        return None


def test_the_web_shows_the_forecast_of_the_plans_own_data(store_and_web) -> None:
    config, base = store_and_web
    with store_client(config, timeout=5) as store:
        raw = store.put("raw", {"work.tsv": "x"}, source="test.xlsx")["commit"]
        cond = store.put("conditioned", {"streams.txt": "x"}, source=f"raw@{raw}")["commit"]
        plan = _plan(cond)
        plan["lineage"]["raw"] = raw
        store.put("plan", {"plan.json": json.dumps(plan)}, source=f"conditioned@{cond}")
        wait_for(lambda: _view(base), 30, 0.1, "the plan on the web")
        assert _view(base)["forecast"]["state"] == "none"
        forecast = {
            "runs": 10,
            "spread": 1.0,
            "seed": "1",
            "lineage": {"conditioned": cond, "raw": raw},
            "by_track": {"Track1": {"items": {"W1": {"p50": "2013-10-28", "p85": "2013-11-04"}}}},
        }
        store.put("forecast", {"forecast.json": json.dumps(forecast)}, source=f"conditioned@{cond}")

        def shown() -> dict | None:
            view = _view(base)
            return view if view and view["forecast"]["state"] == "current" else None

        view = wait_for(shown, 30, 0.1, "the forecast on the web")
        row = next(r for r in view["work"] if r["id"] == "W1")
        assert row["forecast"]["p85"] == "2013-11-04"
        # A forecast that comes before its plan waits for it, and never shows beside another.
        cond2 = store.put("conditioned", {"streams.txt": "y"}, source=f"raw@{raw}")["commit"]
        early = dict(forecast, lineage={"conditioned": cond2, "raw": raw}, runs=20)
        store.put("forecast", {"forecast.json": json.dumps(early)}, source=f"conditioned@{cond2}")
        view = _view(base)
        assert view["forecast"] == {**view["forecast"], "state": "current", "runs": 10}
        later = _plan(cond2)
        store.put("plan", {"plan.json": json.dumps(later)}, source=f"conditioned@{cond2}")

        def moved_on() -> dict | None:
            view = _view(base)
            return view if view and view["lineage"]["conditioned"] == cond2 else None

        view = wait_for(moved_on, 30, 0.1, "the second plan on the web")
        assert view["forecast"]["state"] == "current" and view["forecast"]["runs"] == 20
