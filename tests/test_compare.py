"""Compare one row per item (web.compare) and blame (web.blame, web.rawdiff), without processes.

The plans are DOMAIN.md's worked example and variants of its sheets, conditioned and
planned as the services would; each blame test changes one thing and checks that the
moved items name it, with the sheet, the row's id and the column.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import json
from types import SimpleNamespace

import pytest

from condition_service.conditioner import condition
from planning.planner import compute_plan, plan_to_json
from tests.examples import SETTINGS, WORKED, raw
from web.blame import MAX_CAUSES, BlameInputs, blame
from web.compare import CompareError, WorkDays, compare_plans
from web.history import History, HistoryError, scenario_causes
from web.rawdiff import diff_sheets, read_sheet, read_sheets

HOLIDAYS = {dt.date(2013, 11, 28), dt.date(2013, 11, 29)}


def plan_of(sheets: dict) -> tuple:
    """(files, model, plan) of a workbook's sheets, as condition_service and qplan would."""
    files = {name: text.encode() for name, text in raw(sheets).items()}
    model = condition(files, SETTINGS).model
    return files, model, json.loads(plan_to_json(compute_plan(model)))


BASE = plan_of(WORKED)


def compared(sheets: dict, track: str = "All") -> tuple[dict, int]:
    """The comparison of the worked example with ``sheets``, blamed; (by id, unexplained)."""
    files, model, plan = plan_of(sheets)
    result = compare_plans(BASE[2], plan, track)
    inputs = BlameInputs(BASE[2], plan, BASE[1], model, read_sheets(BASE[0]), read_sheets(files))
    unexplained = blame(result["rows"], inputs, track)
    ids = [row["id"] for row in result["rows"]]
    assert len(ids) == len(set(ids)), "an item shows more than once"
    return {row["id"]: row for row in result["rows"]}, unexplained


def changed(**edits) -> dict:
    """The worked example's sheets with ``sheet=function(rows)`` edits applied."""
    sheets = copy.deepcopy(WORKED)
    for name, edit in edits.items():
        edit(sheets[name])
    return sheets


def work_days(start: str, end: str) -> int:
    """Work days from ``start`` to ``end``, counted one day at a time (the reference)."""
    a, b = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    step = 1 if b >= a else -1
    count, day = 0, a
    while day != b:
        if day.weekday() < 5 and day not in HOLIDAYS:
            count += step
        day += dt.timedelta(days=step)
    return count


# -- work days and rows ---------------------------------------------------------------------


def test_work_days_skip_weekends_and_holidays():
    days = WorkDays(HOLIDAYS)
    fri, mon = dt.date(2013, 10, 11), dt.date(2013, 10, 14)
    assert days.between(fri, mon) == 1 and days.between(mon, fri) == -1
    assert days.between(dt.date(2013, 11, 27), dt.date(2013, 12, 2)) == 1  # over Thanksgiving
    for start, end in (("2013-10-07", "2013-12-20"), ("2013-12-20", "2013-10-07")):
        assert days.between(dt.date.fromisoformat(start), dt.date.fromisoformat(end)) == work_days(
            start, end
        )


def test_each_item_once_in_all_and_only_the_tracks_items_in_a_track():
    plan = BASE[2]
    every = compare_plans(plan, plan)
    assert len(every["rows"]) == len(WORKED["work"]) - 1
    assert every["counts"]["unchanged"] == len(every["rows"])
    track1 = compare_plans(plan, plan, "Track1")["rows"]
    assert sorted(row["id"] for row in track1) == ["W10", "W30", "W50"]
    with pytest.raises(CompareError) as caught:
        compare_plans(plan, plan, "Nope")
    assert caught.value.status == 404 and "Track1" in str(caught.value)


def test_a_dnf_counts_as_the_first_work_day_after_the_quarter():
    before, after = copy.deepcopy(BASE[2]), copy.deepcopy(BASE[2])
    for plan, end in ((before, "2013-12-18"), (after, None)):
        item = next(i for i in plan["by_track"]["All"]["work"] if i["id"] == "W30")
        item["end"] = end
    row = next(r for r in compare_plans(before, after)["rows"] if r["id"] == "W30")
    # Dec 18 (Wed) -> DNF: done on Dec 23 (Mon), the first work day after Dec 20.
    assert row["days_slipped"] == 3 and row["status"] == "slipped" and row["dnf_after"]
    back = next(r for r in compare_plans(after, before)["rows"] if r["id"] == "W30")
    assert back["days_slipped"] == -3 and back["status"] == "improved"


def test_rows_are_sorted_by_slip_and_say_added_and_removed():
    sheets = changed(
        work=lambda rows: rows.__setitem__(1, ["W11", 10, "New", "Apps:1", 1, "Track1"])
    )
    rows, _ = compared(sheets)
    assert rows["W11"]["status"] == "added" and rows["W11"]["before"] is None
    assert rows["W10"]["status"] == "removed" and rows["W10"]["after"] is None
    assert rows["W11"]["days_slipped"] is None
    slips = [row["days_slipped"] or 0 for row in rows.values()]
    assert slips == sorted(slips, reverse=True)


# -- the raw sheets -------------------------------------------------------------------------


def test_a_sheet_is_read_below_its_title_and_keyed_by_id_or_name():
    sheet = read_sheet("work", "Q4 plan\n\nRank\tName\tApps\n10\tLogin\t3\n20\tSearch\t\n")
    assert sheet.header == ["Rank", "Name", "Apps"] and sheet.key_column == "Rank"
    sheet = read_sheet("staff", "Name\tSkill\nAlice\tApps\n")
    assert sheet.find("x", "Alice").cells == {"Name": "Alice", "Skill": "Apps"}
    old = {"s": read_sheet("s", "ID\tName\tApps\nW1\tA\t3\nW2\tB\t1\n")}
    new = {"s": read_sheet("s", "ID\tName\tApps\nW1\tA\t 3 \nW3\tC\t2\nW2\tB\t2\n")}
    found = diff_sheets(old, new)
    assert ("s", "W1") not in found  # white space only
    assert found[("s", "W2")].cells[0].as_json() == {
        "column": "Apps",
        "before": "1",
        "after": "2",
        "cell": "C4",
    }
    assert found[("s", "W3")].kind == "added" and found[("s", "W3")].columns == "ID"


# -- blame ----------------------------------------------------------------------------------


def test_its_own_row_doubled_is_the_first_cause_with_the_cell():
    sheets = changed(work=lambda rows: rows[1].__setitem__(3, "Apps:6, Native:2"))
    rows, unexplained = compared(sheets, "Track1")
    login = rows["W10"]
    assert login["status"] == "slipped"
    assert login["days_slipped"] == work_days(login["before"], login["after"]) == 15
    cause = login["causes"][0]
    assert cause["kind"] == "own_row" and (cause["sheet"], cause["row"]) == ("work", "W10")
    assert cause["cells"] == [
        {
            "column": "Estimate",
            "before": "Apps:3, Native:2",
            "after": "Apps:6, Native:2",
            "cell": "D2",
        }
    ]
    assert unexplained == 0
    for row in rows.values():
        assert bool(row["causes"]) == (row["status"] != "unchanged")


def test_a_person_who_left_is_named_for_items_of_their_skill_in_their_track():
    sheets = changed(staff=lambda rows: rows.pop(2))  # Bob, Native, Track1
    rows, unexplained = compared(sheets, "Track1")
    login = rows["W10"]
    assert login["dnf_after"] and login["status"] == "slipped"
    person = [c for c in login["causes"] if c["kind"] == "person"]
    assert [(c["sheet"], c["row"], c["column"]) for c in person] == [("staff", "P2", "ID")]
    assert person[0]["text"] == "Bob (Native, Track1) left"
    assert unexplained == 0
    track2, _ = compared(sheets, "Track2")
    assert all(not row["causes"] for row in track2.values())  # Track2 has no Native work


def test_an_item_added_or_reranked_above_is_named():
    added = changed(work=lambda rows: rows.append(["W7", 7, "Hotfix", "Apps:2", 1, "Track2"]))
    rows, _ = compared(added, "Track2")
    rewrite = rows["W40"]
    assert rewrite["days_slipped"] == 0 and rewrite["status"] == "slipped"  # DNF, shorter of Apps
    assert rewrite["shortage_after"]["Apps"] < rewrite["shortage_before"]["Apps"]
    above = [c for c in rewrite["causes"] if c["kind"] == "item_above"]
    assert [(c["row"], c["column"]) for c in above] == [("W7", "ID")]
    assert "added above it" in above[0]["text"]
    reranked = changed(work=lambda rows: rows[4].__setitem__(1, 1))  # Big rewrite to rank 1
    rows, unexplained = compared(reranked, "Track2")
    search = rows["W5"]
    assert search["status"] == "slipped" and search["days_slipped"] > 0
    cause = next(c for c in search["causes"] if c["kind"] == "item_above")
    assert (cause["row"], cause["column"]) == ("W40", "Rank")
    assert "re-ranked above it (rank 40 → 1)" in cause["text"]
    assert unexplained == 0


def test_a_new_holiday_is_named_on_its_row():
    sheets = changed(holidays=lambda rows: rows.append(["2013-10-10", "Founders day"]))
    rows, unexplained = compared(sheets, "Track1")
    login = rows["W10"]
    assert login["days_slipped"] == 1
    cause = login["causes"][-1]
    assert cause["kind"] == "calendar" and cause["sheet"] == "holidays"
    assert (cause["row"], cause["column"]) == ("2013-10-10", "Date")
    assert "holiday added: Oct 10, 2013" in cause["text"]
    assert unexplained == 0


def test_an_item_that_moved_with_no_sheet_change_says_so():
    files, model, plan = BASE
    moved = copy.deepcopy(plan)
    item = next(i for i in moved["by_track"]["All"]["work"] if i["id"] == "W20")
    item["end"] = "2013-12-02"
    result = compare_plans(plan, moved)
    sheets = read_sheets(files)
    unexplained = blame(result["rows"], BlameInputs(plan, moved, model, model, sheets, sheets))
    assert unexplained == 1
    row = next(r for r in result["rows"] if r["id"] == "W20")
    assert [c["kind"] for c in row["causes"]] == ["unexplained"]
    assert "no listed reason" in row["causes"][0]["text"]


def test_causes_are_capped_with_a_count_of_the_rest():
    def many(rows):
        rows[1:] = [["W10", 100, "Login flow", "Apps:3, Native:2", 1, "Track1"]]
        rows += [[f"N{n}", n, f"New {n}", "Apps:0.1", 1, "Track1"] for n in range(1, 40)]

    rows, _ = compared(changed(work=many), "Track1")
    causes = rows["W10"]["causes"]
    assert len(causes) == MAX_CAUSES and causes[-1]["kind"] == "more"
    assert causes[0]["kind"] == "own_row"


# -- the plan log in the web's memory (web.history) ------------------------------------------


class FakeLog:
    """A store's LOG of ``count`` plan versions five minutes apart, newest first."""

    def __init__(self, count: int) -> None:
        start = dt.datetime(2026, 9, 1, tzinfo=dt.UTC)
        self.entries = [
            {
                "commit": f"{n:040x}",
                "time": (start + dt.timedelta(minutes=5 * n)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
            for n in reversed(range(count))
        ]
        self.asked: list[int] = []

    async def log(self, dataset: str, limit: int) -> list[dict]:
        self.asked.append(limit)
        return [dict(entry) for entry in self.entries[:limit]]


def test_a_date_reads_the_log_once_as_deep_as_it_needs_then_from_memory():
    store = FakeLog(10_000)
    history = History(SimpleNamespace(store=store, dataset="plan", current=None))
    newest_day = store.entries[0]["time"][:10]
    week_ago = (dt.date.fromisoformat(newest_day) - dt.timedelta(days=7)).isoformat()
    found = asyncio.run(history.at_date(week_ago))
    expected = next(e for e in store.entries if e["time"] <= f"{week_ago}T23:59:59Z")
    assert found["commit"] == expected["commit"]
    assert len(store.asked) == 2 and 2_000 < store.asked[1] < 3_500  # one LOG deep enough
    store.asked.clear()
    store.entries.insert(0, {"commit": "f" * 40, "time": "2026-12-31T00:00:00Z"})  # a new plan
    assert asyncio.run(history.at_date(week_ago))["commit"] == expected["commit"]
    assert store.asked == [50]  # the new head, and the rest from memory
    assert asyncio.run(history.at_date("2026-09-01"))["commit"] == f"{287:040x}"
    with pytest.raises(HistoryError) as caught:  # 10,001 versions: the oldest is beyond LOG
        asyncio.run(history.at_date("2026-08-31"))
    assert caught.value.status == 404 and "among the newest 10000" in str(caught.value)
    small = History(SimpleNamespace(store=FakeLog(30), dataset="plan", current=None))
    with pytest.raises(HistoryError) as caught:
        asyncio.run(small.at_date("2026-08-31"))
    assert caught.value.status == 404 and "no plan yet" in str(caught.value)


def test_a_scenarios_edits_are_the_causes_of_what_it_moved_the_item_s_own_first():
    scenario = {
        "name": "Rush",
        "edits": [
            {"op": "add_people", "skill": "Web", "track": "Checkout", "count": 2},
            {"op": "set_rank", "item": "B", "rank": 1},
            {"op": "remove_person", "person": "p9"},  # broken: not applied
        ],
        "applied": [1, 2],
    }
    unexplained = {"kind": "unexplained", "text": "moved with no listed reason"}
    rows = [
        {"id": "A", "status": "improved", "causes": [dict(unexplained)]},
        {"id": "B", "status": "improved", "causes": [dict(unexplained)]},
        {"id": "C", "status": "unchanged", "causes": []},
    ]
    assert scenario_causes(rows, [scenario]) == 0
    a, b, c = (row["causes"] for row in rows)
    assert [x["kind"] for x in a] == ["scenario", "scenario"]  # no "unexplained" left
    assert "edit 1: add_people" in a[0]["text"] and "edit 2: set_rank" in a[1]["text"]
    assert "edit 2: set_rank" in b[0]["text"]  # the edit naming the item comes first
    assert not any("edit 3" in x["text"] for x in a + b)  # a broken edit explains nothing
    assert c == []
