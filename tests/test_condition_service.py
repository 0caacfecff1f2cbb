"""condition_service as a real process against a real snapshot service."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from condition_service.conditioner import condition
from condition_service.service import conditioned_files, last_good
from mesh.snapshot import Snapshot
from tests.examples import SETTINGS, WORKED, raw
from tests.support import made_from, store_client, wait_for, wait_for_store, write_config

FIXTURES = Path(__file__).parent / "fixtures"
EXPECTED_STREAMS = (FIXTURES / "worked_example.streams").read_text(encoding="utf-8")
NO_PROBLEMS = {"fatal": 0, "error": 0, "warning": 0}


def sheets_with(sheet: str, row: int, column: str, value) -> dict[str, list[list]]:
    """The worked example with one cell changed (``row`` counts data rows from 1)."""
    sheets = copy.deepcopy(WORKED)
    sheets[sheet][row][sheets[sheet][0].index(column)] = value
    return sheets


def without(sheet: str) -> dict[str, list[list]]:
    """The worked example without one sheet."""
    sheets = copy.deepcopy(WORKED)
    del sheets[sheet]
    return sheets


# -- the files of a conditioned commit, without sockets -----------------------------------


def test_conditioned_files_of_a_good_workbook():
    result = condition(raw(sheets_with("work", 1, "Triage", "0")), SETTINGS)
    files = conditioned_files(result, result.streams, "abc123")
    assert set(files) == {"streams.txt", "problems.jsonl", "status.json", "estimates.json"}
    [line] = files["problems.jsonl"].splitlines()
    keys = ["column", "item", "message", "row", "severity", "sheet", "value"]
    assert list(json.loads(line)) == keys
    estimates = json.loads(files["estimates.json"])["items"]
    assert estimates["W10"]["skills"]["Apps"] == {
        "weeks": 3.0, "low": 3.0, "high": 3.0, "kind": "number", "text": "3"
    }  # fmt: skip
    assert estimates["W50"] == {"unsized": True, "skills": {}}
    assert files["status.json"] == (
        "{\n"
        '  "problems": {\n'
        '    "error": 0,\n'
        '    "fatal": 0,\n'
        '    "warning": 1\n'
        "  },\n"
        '  "stale": false,\n'
        '  "streams_from": "abc123"\n'
        "}\n"
    )


def test_conditioned_files_of_a_fatal_workbook_without_earlier_streams():
    result = condition(raw(without("staff")), SETTINGS)
    files = conditioned_files(result, None, None)
    assert "streams.txt" not in files
    status = json.loads(files["status.json"])
    assert status == {"stale": True, "streams_from": None, "problems": {**NO_PROBLEMS, "fatal": 1}}


def test_last_good_reads_the_streams_and_where_they_come_from():
    status = json.dumps({"stale": True, "streams_from": "aaa", "problems": NO_PROBLEMS})
    files = {"streams.txt": b"S", "status.json": status.encode(), "estimates.json": b"E"}
    found = last_good(Snapshot("conditioned", "c1", source="raw@bbb", files=files))
    assert found == (b"S", "aaa", b"E")
    broken = {"streams.txt": b"S", "status.json": b"{not json"}
    found = last_good(Snapshot("conditioned", "c1", source="raw@bbb", files=broken))
    assert found == (b"S", "bbb", None)
    assert last_good(Snapshot("conditioned", None)) == (None, None, None)


# -- the running service ------------------------------------------------------------------


class Mesh:
    """A snapshot service and a condition_service on one config, and a store client."""

    def __init__(self, spawn, config: Path) -> None:
        self.spawn = spawn
        self.config = config
        self.client = store_client(config, timeout=2.0, retries=2)
        self.store = spawn.service("snapshot_service", config)
        wait_for_store(config)
        self.service = None

    def start(self):
        """Start (again) the condition_service."""
        self.service = self.spawn.service("condition_service", self.config)
        return self.service

    def put_raw(self, sheets: dict[str, list[list]]) -> str:
        """PUT a workbook as raw; returns the commit."""
        answer = self.client.put("raw", raw(sheets), source="test.xlsx", producer="test")
        assert answer["changed"]
        return answer["commit"]

    def conditioned_from(self, raw_sha: str, timeout: float = 30) -> Snapshot:
        """Wait for the conditioned commit made from ``raw_sha``; returns it with its files."""
        return made_from(self.client, "conditioned", f"raw@{raw_sha}", timeout)

    def count(self) -> int:
        """How many conditioned commits there are."""
        return len(self.client.log("conditioned", 100))


def status(snapshot: Snapshot) -> dict:
    return json.loads(snapshot.text("status.json"))


def problems(snapshot: Snapshot) -> list[dict]:
    return [json.loads(line) for line in snapshot.text("problems.jsonl").splitlines()]


@pytest.fixture
def mesh(spawn, tmp_path):
    folder = tmp_path / "mesh"
    folder.mkdir()
    started = Mesh(spawn, write_config(folder))
    yield started
    started.client.close()


def test_a_raw_commit_becomes_a_conditioned_commit(mesh):
    mesh.start()
    sha = mesh.put_raw(WORKED)
    done = mesh.conditioned_from(sha)
    assert done.text("streams.txt") == EXPECTED_STREAMS
    assert done.text("problems.jsonl") == ""
    assert status(done) == {"stale": False, "streams_from": sha, "problems": NO_PROBLEMS}
    assert done.lineage.get("raw") == sha
    [entry] = mesh.client.log("conditioned")
    assert entry["commit"] == done.commit
    wait_for(lambda: f"raw@{sha[:12]} -> conditioned@{done.commit[:12]}" in mesh.service.output())


def test_broken_rows_become_problems_and_the_service_goes_on(mesh):
    mesh.start()
    broken = sheets_with("work", 1, "Estimate", "Apps:XXL, Native:2")
    broken["work"][2][broken["work"][0].index("Triage")] = "0"
    broken["staff"][2][broken["staff"][0].index("Vacation")] = "31/31/2013"
    sha = mesh.put_raw(broken)
    done = mesh.conditioned_from(sha)
    found = [(p["severity"], p["sheet"], p["row"], p["column"]) for p in problems(done)]
    assert found == [
        ("error", "work", 2, "Estimate"),
        ("warning", "work", 3, "Triage"),
        ("error", "staff", 3, "Vacation"),
    ]
    assert status(done) == {
        "stale": False,
        "streams_from": sha,
        "problems": {"fatal": 0, "error": 2, "warning": 1},
    }
    assert "\tW10\t10\tLogin flow\tNative:2\t1\tTrack1\n" in done.text("streams.txt")
    good = mesh.put_raw(WORKED)
    assert mesh.conditioned_from(good).text("streams.txt") == EXPECTED_STREAMS
    assert mesh.service.alive()


def test_a_fatal_raw_keeps_the_last_good_streams(mesh):
    mesh.start()
    first = mesh.put_raw(without("staff"))
    done = mesh.conditioned_from(first)
    assert "streams.txt" not in done.files
    assert status(done) == {
        "stale": True,
        "streams_from": None,
        "problems": {"fatal": 1, "error": 0, "warning": 0},
    }
    good = mesh.put_raw(WORKED)
    assert mesh.conditioned_from(good).text("streams.txt") == EXPECTED_STREAMS
    fatal = mesh.put_raw(without("staff"))
    done = mesh.conditioned_from(fatal)
    assert done.text("streams.txt") == EXPECTED_STREAMS
    assert status(done)["stale"] and status(done)["streams_from"] == good
    [problem] = problems(done)
    assert (problem["severity"], problem["sheet"], problem["row"]) == ("fatal", "staff", None)
    again = mesh.put_raw(sheets_with("work", 1, "Name", "Login flow v2"))
    done = mesh.conditioned_from(again)
    assert status(done) == {"stale": False, "streams_from": again, "problems": NO_PROBLEMS}
    assert "Login flow v2" in done.text("streams.txt")
    assert mesh.service.alive()


def test_a_restarted_service_catches_up_with_one_commit(mesh):
    service = mesh.start()
    first = mesh.put_raw(WORKED)
    mesh.conditioned_from(first)
    assert service.stop() == 0
    shas = [mesh.put_raw(sheets_with("work", 1, "Rank", rank)) for rank in (11, 12, 13)]
    mesh.start()
    done = mesh.conditioned_from(shas[-1])
    assert "\tW10\t13\tLogin flow\t" in done.text("streams.txt")
    assert mesh.count() == 2  # the first raw's, then one for the newest of the three
    assert mesh.service.stop() == 0

    # Nothing new: the restarted service makes no commit. The next raw proves it has synced.
    restarted = mesh.start()
    latest = mesh.put_raw(sheets_with("work", 1, "Rank", 14))
    mesh.conditioned_from(latest)
    assert mesh.count() == 3
    assert f"raw@{shas[-1][:12]} ->" not in restarted.output()
