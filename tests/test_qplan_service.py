"""qplan_service as a real process against a real snapshot service (and the whole chain)."""

from __future__ import annotations

import json
import subprocess

import pytest
import zmq

from mesh.config import Config
from mesh.errors import RemoteError
from mesh.protocol import SIGNATURE
from mesh.snapshot import Snapshot
from qplan_service.service import empty_plan, read_problems
from tests.planner_mesh import WORKED, Mesh
from tests.support import PYTHON, ROOT, tools_curve, wait_for, write_config

WARNING = {
    "severity": "warning",
    "sheet": "work",
    "row": 3,
    "column": "Triage",
    "value": "urgent",
    "message": "triage 'urgent' is not a number; taken as 3",
}
ADD_PEOPLE = [
    {"op": "add_people", "skill": "Apps", "track": "Track2", "count": 3},
    {"op": "add_people", "skill": "Web", "track": "Track2", "count": 2},
]

# An external planner for the filter tests: what it does is read from a mode file.
FILTER_SCRIPT = """\
import os, sys, time
mode = open(sys.argv[1]).read().strip()
if mode == "ok":
    os.execv(sys.executable, [sys.executable, "-m", "qplan_service.filter"])
if mode == "crash":
    print("filter: out of cheese", file=sys.stderr)
    sys.exit(3)
if mode == "hang":
    time.sleep(60)
if mode == "garbage":
    print("this is not JSON")
if mode == "notaplan":
    print('{"tracks": []}')
"""


def plan_of(snapshot: Snapshot) -> dict:
    return json.loads(snapshot.text("plan.json"))


def ends(plan: dict, track: str) -> dict[str, str | None]:
    return {item["name"]: item["end"] for item in plan["by_track"][track]["work"]}


@pytest.fixture
def mesh(planner_mesh):
    return planner_mesh


@pytest.fixture
def filter_mesh(spawn, tmp_path):
    """A mesh whose qplan_service plans with the external filter script."""
    folder = tmp_path / "mesh"
    folder.mkdir()
    script = tmp_path / "filter.py"
    script.write_text(FILTER_SCRIPT, encoding="utf-8")
    mode = tmp_path / "mode"
    mode.write_text("ok", encoding="utf-8")
    config = write_config(
        folder,
        {"qplan_service": {"filter_command": f"{PYTHON} {script} {mode}", "filter_timeout": "1"}},
    )
    started = Mesh(spawn, config)
    started.mode = mode
    yield started
    started.close()


# -- pure helpers -------------------------------------------------------------------------


def test_problem_lines_that_are_not_records_become_problems():
    data = json.dumps(WARNING).encode() + b"\n\nnot json\n[1]\n"
    problems = read_problems(data)
    assert problems[0] == WARNING
    assert [p["message"] for p in problems[1:]] == [
        "problems.jsonl line 3 is not a JSON object",
        "problems.jsonl line 4 is not a JSON object",
    ]


# -- the running service ------------------------------------------------------------------


def test_a_conditioned_commit_becomes_a_plan_commit(mesh):
    mesh.start()
    sha = mesh.put_conditioned(WORKED, [WARNING])
    done = mesh.plan_from(sha)
    assert done.source == f"conditioned@{sha}"
    assert done.lineage["conditioned"] == sha and done.lineage["raw"] == mesh.raw
    plan = plan_of(done)
    assert plan["lineage"] == {"conditioned": sha, "raw": mesh.raw}
    assert plan["problems"] == [WARNING]
    assert plan["status"] == {"stale": False, "streams_from": mesh.raw}
    assert ends(plan, "Track1")["Push notifications"] == "2013-12-05"
    assert plan["by_track"]["Track2"]["work"][2]["shortage"] == {"Apps": -19.4, "Web": -14.9}
    text = done.text("plan.json")
    assert '\n "by_track": {\n' in text  # one key a line, for readable git diffs
    [entry] = mesh.plans()
    assert entry["producer"] == "qplan_service"
    beat = wait_for(lambda: (mesh.heartbeats.of("qplan_service") or {}).get("messages_out"))
    assert beat == 1


def test_conditioned_data_without_streams_gives_an_empty_plan_with_problems(mesh):
    mesh.start()
    fatal = {**WARNING, "severity": "fatal", "sheet": "staff", "message": "no staff sheet"}
    sha = mesh.put_conditioned(None, [fatal], stale=True, streams_from=None)
    plan = plan_of(mesh.plan_from(sha))
    assert plan["tracks"] == [] and plan["by_track"] == {}
    assert plan["problems"] == [fatal]
    assert plan["status"] == {"stale": True, "streams_from": None}
    assert {k: plan[k] for k in empty_plan()} == empty_plan()
    with pytest.raises(RemoteError, match="no streams"):
        mesh.whatif(ADD_PEOPLE)


def test_a_restart_without_new_input_makes_no_new_plan(mesh):
    first = mesh.start()
    sha = mesh.put_conditioned(WORKED)
    planned = mesh.plan_from(sha)
    first.stop()
    again = mesh.start()
    newer = mesh.put_conditioned(WORKED.replace("Big rewrite", "Bigger rewrite"))
    mesh.plan_from(newer)
    # The new input is planned after the start-up sync, so by now that sync is
    # over, and it found the old input already planned. (The service logs a plan just
    # after committing it: its line may reach us a moment after the commit does.)
    assert [entry["source"] for entry in mesh.plans()] == [
        f"conditioned@{newer}",
        f"conditioned@{sha}",
    ]
    wait_for(lambda: "-> plan@" in again.output(), what="the plan's log line")
    assert f"-> plan@{planned.commit[:12]}" not in again.output()
    assert again.output().count("-> plan@") == 1


def test_a_whatif_moves_dnf_items_to_dates_and_commits_nothing(mesh):
    mesh.start()
    sha = mesh.put_conditioned(WORKED, [WARNING])
    planned = mesh.plan_from(sha)
    heads = {name: mesh.store.latest(name).commit for name in ("raw", "conditioned", "plan")}
    answer = mesh.whatif(ADD_PEOPLE)
    assert answer["base"] == {"conditioned": sha, "plan": planned.commit}
    plan = answer["plan"]
    assert ends(plan, "Track2")["Big rewrite"] == "2013-12-06"
    assert plan["lineage"] == {"conditioned": sha, "raw": mesh.raw}
    assert plan["problems"] == [WARNING]
    assert plan["status"] == {"stale": False, "streams_from": mesh.raw}  # (the worker's)
    assert answer["forecast"]["lineage"] == {"conditioned": sha}
    assert "New Web engineer 2" in plan["by_track"]["Track2"]["staff"]["Web"]
    moved = {(c["track"], c["id"]): c for c in answer["changes"]}
    assert moved[("Track2", "W40")]["before"]["end"] is None
    assert moved[("Track2", "W40")]["after"] == {"end": "2013-12-06", "shortage": {}}
    # The same answer for the base named explicitly; and nothing was committed.
    assert mesh.whatif(ADD_PEOPLE, base=sha)["changes"] == answer["changes"]
    assert {name: mesh.store.latest(name).commit for name in heads} == heads
    assert len(mesh.plans()) == 1


def test_a_whatif_on_an_older_base(mesh):
    mesh.start()
    old = mesh.put_conditioned(WORKED)
    old_plan = mesh.plan_from(old)
    new = mesh.put_conditioned(WORKED.replace("\tP3\tCarol", "\tP3\tCaroline"))
    mesh.plan_from(new)
    answer = mesh.whatif([], base=old[:12])
    assert answer["base"] == {"conditioned": old, "plan": old_plan.commit}
    assert answer["changes"] == []
    assert answer["plan"]["by_track"]["Track2"]["staff"]["Web"] == ["Carol"]


@pytest.mark.parametrize(
    "header, words",
    [
        ({"base": None, "edits": [{"op": "hire"}]}, ["edit 1 (hire)", "unknown op"]),
        (
            {"base": None, "edits": [{"op": "set_rank", "item": "W99", "rank": 1}]},
            ["edit 1 (set_rank)", "W99"],
        ),
        ({"base": "0123456789abcdef", "edits": []}, ["unknown base"]),
        ({"base": 12, "edits": []}, ['"base"']),
        ({"base": None}, ['"edits"']),
        ({"base": None, "edits": {"op": "set_rank"}}, ["list"]),
    ],
)
def test_bad_whatifs_get_err_and_the_service_keeps_serving(mesh, header, words):
    mesh.start()
    sha = mesh.put_conditioned(WORKED)
    mesh.plan_from(sha)
    with pytest.raises(RemoteError) as caught:
        mesh.planner.call("WHATIF", header)
    for word in words:
        assert word in str(caught.value)
    assert caught.value.code == "bad_request"
    assert mesh.whatif(ADD_PEOPLE)["base"]["conditioned"] == sha
    assert mesh.service.alive()


def test_malformed_frames_and_other_verbs_get_err(mesh):
    mesh.start()
    sha = mesh.put_conditioned(WORKED)
    mesh.plan_from(sha)
    with pytest.raises(RemoteError, match="answers WHATIF"):
        mesh.planner.call("GET", {"dataset": "plan"})
    raw = zmq.Context.instance().socket(zmq.DEALER)
    raw.linger = 0
    tools_curve(mesh.config, "qplan_service").apply(raw)
    try:
        raw.connect(Config(mesh.config).endpoint("qplan_service", "request_endpoint"))
        raw.send_multipart([b"", b"junk", b"WHATIF", b"{}"])
        assert raw.poll(10_000), "no answer to a malformed request"
        frames = raw.recv_multipart()
        assert frames[1:3] == [SIGNATURE, b"ERR"]
        assert "malformed" in json.loads(frames[3])["error"]
        raw.send_multipart([b"no delimiter"])  # nobody to answer: dropped
    finally:
        raw.close(linger=0)
    assert mesh.whatif([])["changes"] == []
    assert mesh.service.alive()
    beat = wait_for(lambda: (mesh.heartbeats.of("qplan_service") or {}).get("errors", 0) >= 2)
    assert beat


def test_a_failing_filter_keeps_the_last_good_plan(filter_mesh):
    mesh = filter_mesh
    mesh.start()
    good = mesh.put_conditioned(WORKED)
    planned = mesh.plan_from(good)
    assert ends(plan_of(planned), "Track1")["Login flow"] == "2013-10-25"
    failures = [
        ("crash", "exited with code 3: filter: out of cheese"),
        ("hang", "took more than 1 s"),
        ("garbage", "printed no JSON"),
        ("notaplan", "not a plan"),
    ]
    for number, (mode, words) in enumerate(failures, start=1):
        mesh.mode.write_text(mode, encoding="utf-8")
        mesh.put_conditioned(WORKED.replace("Search", f"Search {mode}"))
        wait_for(
            lambda n=number: mesh.service.output().count("the last good one stays") == n,
            timeout=30,
            what=f"the {mode} filter to fail",
        )
        assert words in mesh.service.output()
        assert mesh.store.latest("plan").commit == planned.commit
        assert mesh.service.alive()
    beat = wait_for(lambda: (mesh.heartbeats.of("qplan_service") or {}).get("detail", {}))
    wait_for(lambda: "not a plan" in str(mesh.heartbeats.of("qplan_service")["detail"]))
    assert mesh.heartbeats.of("qplan_service")["errors"] >= 4
    assert beat["planner"] == "filter"
    # What-ifs use the built-in planner, whatever the filter does.
    assert ends(mesh.whatif(ADD_PEOPLE)["plan"], "Track2")["Big rewrite"] == "2013-12-06"
    mesh.mode.write_text("ok", encoding="utf-8")
    fixed = mesh.put_conditioned(WORKED.replace("Search", "Search again"))
    plan = plan_of(mesh.plan_from(fixed))
    assert "Search again" in ends(plan, "Track2")
    assert plan["lineage"]["conditioned"] == fixed
    wait_for(lambda: mesh.heartbeats.of("qplan_service")["detail"]["last_error"] is None)


def test_the_whole_chain_from_a_workbook(mesh):
    mesh.start("condition_service")
    mesh.start()
    pulled = subprocess.run(
        [PYTHON, "pull_raw.py", "--config", str(mesh.config), "data/sample/plan.xlsx"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert pulled.returncode == 0, pulled.stderr
    raw = pulled.stdout.strip().splitlines()[-1]
    wait_for(
        lambda: mesh.store.latest("plan").lineage.get("raw") == raw,
        timeout=60,
        what="a plan from the pulled workbook",
    )
    plan = plan_of(mesh.store.get("plan"))
    assert plan["lineage"]["raw"] == raw
    assert plan["tracks"][0] == "All" and len(plan["tracks"]) > 2
    before = sum(1 for item in plan["by_track"]["Checkout"]["work"] if item["end"])
    answer = mesh.whatif([{"op": "add_people", "skill": "Web", "track": "Checkout", "count": 2}])
    after = sum(1 for item in answer["plan"]["by_track"]["Checkout"]["work"] if item["end"])
    assert after > before
    assert any(c["track"] == "Checkout" and c["before"]["end"] is None for c in answer["changes"])


def test_a_plan_the_store_refuses_is_not_tried_again(spawn, tmp_path):
    folder = tmp_path / "mesh"
    folder.mkdir()
    # The conditioned input fits under the store's limit; the plan made of it (~5 KB) does not.
    extra = {"snapshot_service": {"max_payload": "3KiB"}, "mesh": {"resync_interval": "0.2"}}
    mesh = Mesh(spawn, write_config(folder, extra))
    try:
        service = mesh.start()
        mesh.put_conditioned(WORKED)
        wait_for(lambda: "not retried" in service.output(), what="the refusal in the log")
        beat = mesh.heartbeats.of("qplan_service") or {"uptime": 0}
        # Five periodic syncs later the input is still handled once: one error, no new try.
        later = wait_for(
            lambda: (
                (mesh.heartbeats.of("qplan_service") or {}).get("uptime", 0) >= beat["uptime"] + 1.0
                and mesh.heartbeats.of("qplan_service")
            ),
            what="a second of syncs",
        )
        assert later["errors"] == 1
        assert service.output().count("not retried") == 1
        assert mesh.store.latest("plan").commit is None
    finally:
        mesh.close()
