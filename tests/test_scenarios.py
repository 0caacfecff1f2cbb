"""Saved scenarios through the real mesh: run_all, pull_raw, the store, the planner, the web.

One mesh for the module (run_all in a temp folder, the sample workbook pulled).
Scenarios are saved over HTTP, read back from the store with plain clients,
survive a restart of the web and of the whole mesh, and are re-applied to a
newer sheet from which one of their items and one of their people were removed:
those edits are listed as broken, the others still applied.
"""

from __future__ import annotations

import copy
import json
import os
import signal
from urllib.parse import quote, urlencode

import pytest

from formats.scenarios import INDEX_FILE, ScenarioError, check_name, file_name, load_scenarios
from tests.browser.mesh import MeshUnderTest, make_sample
from tests.support import api_call, store_client, wait_for
from web.scenarios import refused_edit, split_edits

NAME = "Two more Web (Q4)"


def request(mesh: MeshUnderTest, method: str, path: str, body=None, headers=None):
    """(status, JSON) of any request; the body as JSON text unless it is bytes."""
    return api_call(mesh.base, path, body, method=method, headers=headers, timeout=30)


def scenario_path(name: str, query: str = "") -> str:
    return f"/api/scenarios/{quote(name, safe='')}" + (f"?{query}" if query else "")


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    mesh = MeshUnderTest(tmp_path_factory.mktemp("scenarios"))
    mesh.start()
    try:
        mesh.sheets = make_sample().build_sheets()
        mesh.view = mesh.plan_for(mesh.pull_sheets(mesh.sheets, "sample"), timeout=60)
        yield mesh
    finally:
        mesh.stop()


def _edits(mesh) -> list[dict]:
    """Edits on Checkout: two Web people, an item re-ranked, a person removed by name."""
    work = mesh.sheets["work"]
    item = next(row for row in work[1:] if row[3] == "Checkout")
    person = next(row for row in mesh.sheets["staff"][1:] if row[3] == "Checkout")
    mesh.item, mesh.person = item, person
    return [
        {"op": "add_people", "skill": "Web", "track": "Checkout", "count": 2},
        {"op": "set_rank", "item": item[1], "rank": 1},
        {"op": "remove_person", "person": person[1]},
    ]


def test_names_and_files():
    assert check_name("Q4 commit (v2)") == "Q4 commit (v2)"
    assert file_name("Q4 commit") == "Q4%20commit.json"
    for bad in ("", " x", "x ", "=cmd", "-x", "a/b", "a\tb", "x" * 61, "../x", "a  b", 3):
        with pytest.raises(ScenarioError):
            check_name(bad)
    found, problems = load_scenarios({INDEX_FILE: b"", "x.json": b"{", "y.json": b"[]"})
    assert found == {} and len(problems) == 2


def test_broken_edits_are_found_by_the_plan_and_by_the_planner():
    plan = {
        "tracks": ["All", "T"],
        "skills": ["Web"],
        "by_track": {"All": {"work": [{"id": "A"}], "staff": {"Web": ["Ann"]}}},
    }
    edits = [
        {"op": "set_rank", "item": "A", "rank": 1},
        {"op": "set_rank", "item": "GONE", "rank": 1},
        {"op": "add_people", "skill": "Web", "track": "Old", "count": 1},
        {"op": "set_estimate", "item": "A", "estimate": {"Juggling": 1}},
        {"op": "remove_person", "person": "p-7"},
    ]
    kept, broken = split_edits(plan, edits)
    assert kept == [1, 5]
    assert [(b["number"], b["reason"]) for b in broken] == [
        (2, "item 'GONE' is not in the sheet"),
        (3, "track 'Old' is not in the sheet"),
        (4, "skill 'Juggling' is not in the plan"),
    ]
    assert refused_edit("edit 2 (remove_person): unknown person 'X'") == (2, "unknown person 'X'")
    assert refused_edit("whatif_max_edits: 500 edits") is None


def test_bad_scenarios_get_a_4xx_naming_the_problem(mesh):
    ok = _edits(mesh)[:1]
    for body, status, said in (
        ({"name": "=HYPERLINK(1)", "edits": ok}, 400, "must start with a letter"),
        ({"name": "", "edits": ok}, 400, "empty"),
        ({"name": "x" * 61, "edits": ok}, 400, "at most 60"),
        ({"name": "ok", "edits": "add two"}, 400, '"edits" must be a list'),
        ({"name": "ok", "edits": [{"count": 2}]}, 400, 'edit 1 must be an object with an "op"'),
        ({"name": "ok", "edits": ok, "note": 1}, 400, "unknown field 'note'"),
        ({"name": "ok", "edits": [{"op": "set_rank", "item": "NOPE", "rank": 1}]}, 400, "NOPE"),
        ({"name": "ok", "edits": [{"op": "fly"}]}, 400, "unknown op"),
        (b"{not json", 400, "not JSON"),
    ):
        got, answer = request(mesh, "POST", "/api/scenarios", body)
        assert (got, answer["status"]) == (status, status), (body, answer)
        assert said in answer["error"], (body, answer)
    # The guard of every state-changing request: the page's own origin, and JSON only.
    body = {"name": "ok", "edits": ok}
    foreign = {"Origin": "http://evil.example"}
    assert request(mesh, "POST", "/api/scenarios", body, foreign)[0] == 403
    assert request(mesh, "POST", "/api/scenarios", body, {"Content-Type": "text/plain"})[0] == 415
    assert request(mesh, "DELETE", scenario_path("ok"), None, foreign)[0] == 403
    assert (
        request(mesh, "DELETE", scenario_path("ok"), None, {"Content-Type": "text/plain"})[0] == 415
    )
    assert request(mesh, "GET", scenario_path("never saved"))[0] == 404
    assert request(mesh, "DELETE", scenario_path("never saved"))[0] == 404
    assert request(mesh, "GET", "/api/scenarios")[1]["scenarios"] == []


def test_a_saved_scenario_is_a_commit_with_lineage_and_reopens_as_saved(mesh):
    edits = _edits(mesh)
    status, saved = request(mesh, "POST", "/api/scenarios", {"name": NAME, "edits": edits})
    assert status == 201, saved
    assert saved["scenario"]["edits"] == edits
    plan = mesh.view["commit"]
    assert saved["scenario"]["made_on"]["plan"] == plan
    with store_client(mesh.config_path, timeout=5) as store:
        entry = store.log("scenarios", 5)[0]
        snapshot = store.get("scenarios")
    assert entry["commit"] == saved["commit"] and entry["source"] == f"plan@{plan}"
    assert (
        entry["lineage"]["plan"] == plan and entry["lineage"]["raw"] == mesh.view["lineage"]["raw"]
    )
    assert json.loads(snapshot.files[file_name(NAME)])["edits"] == edits
    assert NAME in snapshot.files[INDEX_FILE].decode()
    # Listed, and opened re-applied to the shared plan: every edit applies today.
    listed = request(mesh, "GET", "/api/scenarios")[1]["scenarios"]
    assert [(s["name"], s["edits"]) for s in listed] == [(NAME, 3)]
    assert listed[0]["url"] == "/?scenario=" + quote(NAME, safe="")
    status, opened = request(mesh, "GET", scenario_path(NAME, "track=Checkout&triage=2"))
    assert status == 200, opened
    assert opened["applied"] == [1, 2, 3] and opened["broken"] == []
    assert opened["view"]["track"] == "Checkout" and opened["view"]["triage"] == 2
    assert opened["shared"]["commit"] == plan
    assert any(row["mark"] for row in opened["view"]["work"])  # compared with the shared plan
    assert opened["diff"]["count"] > 0
    # The same what-if posted by hand gives the same plan.
    status, whatif = request(mesh, "POST", "/api/whatif", {"edits": edits, "track": "Checkout"})
    ends = {row["id"]: row["end"] for row in whatif["view"]["work"]}
    assert ends == {row["id"]: row["end"] for row in opened["view"]["work"]}
    assert "plan" not in whatif  # the whole plan (every track) only when asked
    asked = {"edits": edits, "track": "Checkout", "plan": True}
    status, whole = request(mesh, "POST", "/api/whatif", asked)
    rows = whole["plan"]["by_track"]["Checkout"]["work"]
    assert status == 200 and {row["id"]: row["end"] for row in rows} == ends
    # Saving again under the same name replaces it (200), one more commit.
    status, again = request(mesh, "POST", "/api/scenarios", {"name": NAME, "edits": edits[:2]})
    assert status == 200 and again["created"] is False
    assert request(mesh, "GET", scenario_path(NAME, "apply=0"))[1]["edits"] == edits[:2]
    assert request(mesh, "POST", "/api/scenarios", {"name": NAME, "edits": edits})[0] == 200


def test_a_scenario_compares_with_the_shared_plan_like_any_two_versions(mesh):
    query = urlencode({"from": "latest", "to": f"scenario:{NAME}", "track": "Checkout"})
    status, answer = request(mesh, "GET", f"/api/compare?{query}")
    assert status == 200, answer
    assert answer["to"]["scenario"] == NAME and answer["to"]["applied"] == [1, 2, 3]
    assert answer["to"]["commit"] == answer["from"]["commit"]  # applied to the newest plan
    ids = [row["id"] for row in answer["rows"]]
    assert len(ids) == len(set(ids))
    moved = [row for row in answer["rows"] if row["status"] != "unchanged"]
    assert moved and answer["unexplained"] == 0
    assert all(row["causes"][0]["kind"] == "scenario" for row in moved)
    # The same dates as the scenario opened on the plan page.
    opened = request(mesh, "GET", scenario_path(NAME, "track=Checkout"))[1]
    ends = {row["id"]: row["end"] for row in opened["view"]["work"]}
    assert {row["id"]: row["after"] for row in answer["rows"] if row["status"] != "removed"} == ends
    status, missing = request(mesh, "GET", "/api/compare?from=latest&to=scenario:nope")
    assert status == 404 and "nope" in missing["error"]


def test_scenarios_survive_a_restart_of_the_web_and_of_the_whole_mesh(mesh):
    status, other = request(mesh, "POST", "/api/scenarios", {"name": "gone soon", "edits": []})
    assert status == 201
    assert request(mesh, "DELETE", scenario_path("gone soon"))[1]["deleted"] == "gone soon"
    with store_client(mesh.config_path, timeout=5) as store:
        assert store.log("scenarios", 1)[0]["message"].startswith("Delete scenario gone soon")
    pid = mesh.health()["web"]["pid"]
    os.kill(pid, signal.SIGKILL)
    wait_for(
        lambda: mesh.call("/api/plan")[0] == 200 and mesh.health()["web"]["pid"] != pid,
        30,
        0.2,
        "run_all to restart the web",
    )
    names = [s["name"] for s in request(mesh, "GET", "/api/scenarios")[1]["scenarios"]]
    assert names == [NAME]
    mesh.stop()
    mesh.start()
    wait_for(lambda: mesh.call("/api/plan")[0] == 200, 60, 0.2, "the plan after a restart")
    status, opened = request(mesh, "GET", scenario_path(NAME, "track=Checkout"))
    assert status == 200, opened
    assert opened["edits"] == _edits(mesh) and opened["applied"] == [1, 2, 3]


def test_an_edit_whose_item_left_the_sheet_is_shown_broken_not_dropped(mesh):
    edits = _edits(mesh)
    sheets = copy.deepcopy(mesh.sheets)
    sheets["work"] = [row for row in sheets["work"] if row[1] != mesh.item[1]]
    sheets["staff"] = [row for row in sheets["staff"] if row[1] != mesh.person[1]]
    view = mesh.plan_for(mesh.pull_sheets(sheets, "fewer"), timeout=60)
    status, opened = request(mesh, "GET", scenario_path(NAME, "track=Checkout"))
    assert status == 200, opened
    assert opened["shared"]["commit"] == view["commit"]  # re-applied to the newest plan
    assert opened["applied"] == [1]
    broken = {b["number"]: b for b in opened["broken"]}
    assert set(broken) == {2, 3}
    assert broken[2]["edit"] == edits[1] and mesh.item[1] in broken[2]["reason"]
    assert "unknown person" in broken[3]["reason"] and mesh.person[1] in broken[3]["reason"]
    assert mesh.item[1] not in {row["id"] for row in opened["view"]["work"]}
    # The saved scenario itself is untouched: the sheet may get the item back.
    assert request(mesh, "GET", scenario_path(NAME, "apply=0"))[1]["edits"] == edits
    # A save must apply in full.
    status, refused = request(mesh, "POST", "/api/scenarios", {"name": "new", "edits": edits})
    assert status == 400 and mesh.item[1] in refused["error"]
