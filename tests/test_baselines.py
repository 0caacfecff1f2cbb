"""Baselines and compare-with-blame through real processes: store, conditioner, planner, web.

The sample is pulled with pull_raw.py and named "Q4 commit"; then a sheet where one item's
estimate doubled, one person left and an item was added above another. The compare from
the baseline shows each item once, with the right slip and the right causes; it answers the
same again, and after the web restarted; the baseline is a commit of the store's
``baselines`` dataset that plain git shows.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from mesh.config import Config
from tests.support import (
    PYTHON,
    ROOT,
    Proc,
    api_call,
    service_args,
    store_client,
    wait_for,
    write_config,
)

SAMPLE = ROOT / "data" / "sample" / "plan"
SERVICES = ("snapshot_service", "condition_service", "qplan_service", "web")
NEW_ID = "QP-NEW1"


class Mesh:
    """The four services on one config, the web's API, and pulls of CSV folders."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.config = write_config(folder)
        self.base = f"http://127.0.0.1:{Config(self.config).port('web', 'port')}"
        self.procs = {name: self.start(name) for name in SERVICES}

    def start(self, name: str) -> Proc:
        return Proc(service_args(name, self.config), self.folder / f"{name}.out")

    def restart_web(self) -> None:
        self.procs["web"].stop()
        self.procs["web"] = self.start("web")
        wait_for(lambda: self.call("/api/plan")[0] == 200, 30, what="the web to show the plan")

    def call(self, path: str, body: Any = None, headers: dict | None = None) -> tuple[int, Any]:
        return api_call(self.base, path, body, headers=headers)

    def pull(self, folder: Path) -> dict:
        """Pull a CSV folder and wait until the web shows its plan; the plan's view."""
        done = subprocess.run(
            [PYTHON, "pull_raw.py", "--config", str(self.config), str(folder)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        raw = done.stdout.strip().split()[-1]

        def shown():
            status, view = self.call("/api/plan")
            return view if status == 200 and view["lineage"].get("raw") == raw else None

        return wait_for(shown, 60, 0.1, f"the plan of raw@{raw[:12]}")

    def compare(self, **query: str) -> dict:
        status, answer = self.call("/api/compare?" + urllib.parse.urlencode(query))
        assert status == 200, answer
        return answer

    def stop(self) -> None:
        for proc in reversed(list(self.procs.values())):
            proc.stop()


def read_csv(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def write_csv(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)


def work_days(start: str, end: str, holidays: set[str]) -> int:
    """Work days from ``start`` to ``end``, one day at a time (the reference count)."""
    day, last, count = dt.date.fromisoformat(start), dt.date.fromisoformat(end), 0
    while day < last:
        count += day.weekday() < 5 and day.isoformat() not in holidays
        day += dt.timedelta(days=1)
    return count


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    """The mesh with the sample pulled and planned; stopped after the module."""
    mesh = Mesh(tmp_path_factory.mktemp("baselines"))
    try:
        wait_for(lambda: mesh.call("/api/health")[0] == 200, 30, what="the web to answer")
        mesh.sample = mesh.pull(SAMPLE)
        yield mesh
    finally:
        mesh.stop()


@pytest.fixture(scope="module")
def changed(mesh):
    """The sample named "Q4 commit", then a pull with three changes; what was changed."""
    status, answer = mesh.call("/api/baselines", {"name": "Q4 commit"})
    assert status == 201, answer
    view = mesh.sample
    folder = mesh.folder / "changed"
    shutil.copytree(SAMPLE, folder)
    work = read_csv(folder / "work.csv")
    head = work[0]
    by_id = {row[head.index("ID")]: row for row in work[1:]}
    # The first dated item whose binding estimate is a plain number: double it.
    doubled = next(
        row
        for row in view["work"]
        if row["end"]
        and row.get("binding")
        and by_id[row["id"]][head.index(row["binding"])].replace(".", "").isdigit()
    )
    skill = doubled["binding"]
    cells = by_id[doubled["id"]]
    old_value = cells[head.index(skill)]
    cells[head.index(skill)] = f"{float(old_value) * 2:g}"
    # An item added right above a dated Checkout item further down: 30 weeks of its binding
    # skill take every person of that skill from the first day, so that item must slip.
    below = next(
        row
        for row in view["work"]
        if row["track"] == "Checkout" and row["end"] and row["rank"] > doubled["rank"]
    )
    new = [""] * len(head)
    for column, value in (
        ("Rank", str(below["rank"] - 1)),
        ("ID", NEW_ID),
        ("Name", "Added above"),
        ("Track", "Checkout"),
        ("Triage", "1"),
        (below["binding"], "30"),
    ):
        new[head.index(column)] = value
    work.insert(work.index(by_id[below["id"]]), new)
    write_csv(folder / "work.csv", work)
    # One person of the doubled item's skill leaves.
    staff = read_csv(folder / "staff.csv")
    gone = next(row for row in staff[1:] if row[4] == skill)
    staff.remove(gone)
    write_csv(folder / "staff.csv", staff)
    mesh.latest = mesh.pull(folder)
    return {
        "doubled": doubled,
        "skill": skill,
        "old": old_value,
        "below": below,
        "gone": gone[0],
        "holidays": set(view["calendar"]["holidays"]),
        "end": view["calendar"]["end"],
    }


def test_a_baseline_is_named_listed_and_kept_in_the_store(mesh, changed):
    status, answer = mesh.call("/api/baselines")
    assert status == 200
    [baseline] = answer["baselines"]
    assert baseline["name"] == "Q4 commit" and baseline["plan"] == mesh.sample["commit"]
    assert baseline["raw"] == mesh.sample["lineage"]["raw"]
    again = mesh.call("/api/baselines", {"name": "Q4 commit", "plan": mesh.sample["commit"]})
    assert again[0] == 200 and again[1]["created"] is False
    moved = mesh.call("/api/baselines", {"name": "Q4 commit"})  # now names another plan
    assert moved[0] == 409 and "replace" in moved[1]["error"]
    with store_client(mesh.config, timeout=5) as client:
        kept = client.get("baselines")
    assert kept.lineage["plan"] == mesh.sample["commit"]
    assert kept.lineage["raw"] == mesh.sample["lineage"]["raw"]
    assert b'"name": "Q4 commit"' in kept.files["baselines.jsonl"]
    store = Config(mesh.config).path("snapshot_service", "store")
    log = subprocess.run(
        ["git", "-C", str(store), "log", "--format=%s%n%(trailers)", "--", "baselines"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "Baseline 'Q4 commit'" in log and f"Source: plan@{mesh.sample['commit']}" in log


@pytest.mark.parametrize(
    ("body", "headers", "status", "words"),
    [
        ({"name": ""}, {}, 400, "empty"),
        ({"name": "a\nb"}, {}, 400, "U+000A"),
        ({"name": "x" * 65}, {}, 400, "at most 64"),
        ({"name": " Q4"}, {}, 400, "space"),
        ({"name": 7}, {}, 400, "string"),
        ({"name": "ok", "plan": "abcdef0"}, {}, 404, "abcdef0"),
        ({"name": "ok", "plan": "yesterday"}, {}, 400, "baseline:NAME"),
        ({"name": "ok", "color": "red"}, {}, 400, "color"),
        ([1], {}, 400, "object"),
        ({"name": "ok"}, {"Origin": "http://evil.example"}, 403, "evil.example"),
        ({"name": "ok"}, {"Content-Type": "text/plain"}, 415, "application/json"),
    ],
)
def test_a_bad_baseline_request_is_refused_and_names_the_problem(
    mesh, body, headers, status, words
):
    got, answer = mesh.call("/api/baselines", body, headers)
    assert got == status, answer
    assert words.lower() in answer["error"].lower()


def test_the_compare_shows_each_item_once_with_its_slip_and_causes(mesh, changed):
    answer = mesh.compare(**{"from": "baseline:Q4 commit", "to": "latest"})
    assert answer["from"]["commit"] == mesh.sample["commit"]
    assert answer["to"]["commit"] == mesh.latest["commit"]
    ids = [row["id"] for row in answer["rows"]]
    assert len(ids) == len(set(ids)) == len(mesh.latest["work"])
    rows = {row["id"]: row for row in answer["rows"]}
    assert answer["unexplained"] == 0 and answer["blame"] is None
    slips = [row["days_slipped"] or 0 for row in answer["rows"]]
    assert slips == sorted(slips, reverse=True)

    doubled = rows[changed["doubled"]["id"]]
    after = {row["id"]: row for row in mesh.latest["work"]}[doubled["id"]]
    assert doubled["before"] == changed["doubled"]["end"] and doubled["after"] == after["end"]
    # A DNF counts as done on the first work day after the quarter's end.
    end = doubled["after"] or str(dt.date.fromisoformat(changed["end"]) + dt.timedelta(days=1))
    expected = work_days(doubled["before"], end, changed["holidays"])
    assert doubled["days_slipped"] == expected > 0
    assert doubled["status"] == "slipped"
    own = doubled["causes"][0]
    assert (own["kind"], own["sheet"], own["row"], own["column"]) == (
        "own_row",
        "work",
        doubled["id"],
        changed["skill"],
    )
    assert own["cells"][0]["before"] == changed["old"]
    people = [c for c in doubled["causes"] if c["kind"] == "person"]
    assert [(c["sheet"], c["row"]) for c in people] == [("staff", changed["gone"])]

    added = rows[NEW_ID]
    assert added["status"] == "added" and added["causes"][0]["row"] == NEW_ID
    below = rows[changed["below"]["id"]]
    assert below["status"] == "slipped"
    above = [c for c in below["causes"] if c["kind"] == "item_above"]
    assert (NEW_ID, "work") in [(c["row"], c["sheet"]) for c in above]
    for row in answer["rows"]:
        assert bool(row["causes"]) == (row["status"] != "unchanged"), row


def test_a_track_compare_holds_only_that_tracks_items(mesh, changed):
    answer = mesh.compare(**{"from": "baseline:Q4 commit", "to": "latest", "track": "Checkout"})
    assert {row["track"] for row in answer["rows"]} == {"Checkout"}
    assert NEW_ID in {row["id"] for row in answer["rows"]}
    status, error = mesh.call("/api/compare?from=latest&to=latest&track=Nowhere")
    assert status == 404 and "Checkout" in error["error"]


def test_dates_and_bad_references(mesh, changed):
    today = dt.datetime.now(dt.UTC).date().isoformat()
    answer = mesh.compare(**{"from": f"date:{today}", "to": "latest"})
    assert answer["from"]["commit"] == mesh.latest["commit"]
    assert answer["counts"]["unchanged"] == len(answer["rows"])
    for query, status, words in (
        ("from=date:2000-01-01", 404, "no plan yet"),
        ("from=date:2026-13-01", 400, "YYYY-MM-DD"),
        ("from=baseline:Nope", 404, "Q4 commit"),
        ("from=xyz", 400, "baseline:NAME"),
        ("to=latest", 400, "from is missing"),
        ("from=0000000", 404, "unknown commit"),
    ):
        got, error = mesh.call(f"/api/compare?{query}")
        assert got == status, (query, error)
        assert words in error["error"], (query, error)


def test_the_same_compare_answers_the_same_after_a_web_restart(mesh, changed):
    query = {"from": "baseline:Q4 commit", "to": mesh.latest["commit"][:10], "track": "All"}
    first = mesh.compare(**query)
    assert mesh.compare(**query)["rows"] == first["rows"]
    mesh.restart_web()
    assert mesh.call("/api/baselines")[1]["baselines"][0]["name"] == "Q4 commit"
    assert mesh.compare(**query)["rows"] == first["rows"]


def test_versions_mark_baselines_and_a_fatal_stale_plan(mesh, changed):
    broken = mesh.folder / "broken"
    broken.mkdir()
    shutil.copy(SAMPLE / "staff.csv", broken / "staff.csv")  # no work sheet: fatal
    done = subprocess.run(
        [PYTHON, "pull_raw.py", "--config", str(mesh.config), str(broken)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr

    def newest_is_fatal():
        status, answer = mesh.call("/api/versions?limit=10")
        return answer if status == 200 and answer["versions"][0]["fatal"] else None

    versions = wait_for(newest_is_fatal, 30, 0.1, "a fatal plan version")["versions"]
    assert versions[0]["stale"] and versions[0]["problems"]["fatal"] >= 1
    by_commit = {v["commit"]: v for v in versions}
    assert by_commit[mesh.sample["commit"]]["baselines"] == ["Q4 commit"]
    assert not by_commit[mesh.latest["commit"]]["fatal"]
    assert mesh.call("/api/versions?limit=0")[0] == 400


def test_a_compare_exports_as_csv_and_xlsx_equal_to_its_rows(mesh, changed):
    query = {"from": "baseline:Q4 commit", "to": "latest", "track": "Checkout"}
    answer = mesh.compare(**query)
    files = {}
    for kind in ("csv", "xlsx"):
        url = f"{mesh.base}/api/compare?{urllib.parse.urlencode({**query, 'format': kind})}"
        with urllib.request.urlopen(url, timeout=15) as response:
            assert "attachment" in response.headers["Content-Disposition"]
            files[kind] = response.read()
    table = list(csv.reader(io.StringIO(files["csv"].decode("utf-8-sig"))))
    book = openpyxl.load_workbook(io.BytesIO(files["xlsx"]))
    assert book.sheetnames == ["Compare", "Versions"]
    sheet = [list(r) for r in book["Compare"].iter_rows(values_only=True)]
    assert table[0] == sheet[0] and table[0][1] == "ID" and table[0][-1] == "Why"
    assert (
        [r[1] for r in table[1:]] == [r[1] for r in sheet[1:]] == [r["id"] for r in answer["rows"]]
    )
    for row, line, cells in zip(answer["rows"], table[1:], sheet[1:], strict=True):
        after = row["after"] or ("DNF" if row["dnf_after"] else "")
        assert line[6] == after
        got = cells[6].date() if isinstance(cells[6], dt.datetime) else cells[6]
        assert got == (dt.date.fromisoformat(row["after"]) if row["after"] else after or None)
        assert line[7] == ("" if row["days_slipped"] is None else f"{row['days_slipped']:g}")
        assert line[10].split("\n") == ([c["text"] for c in row["causes"]] or [""])
    versions = [list(r) for r in book["Versions"].iter_rows(values_only=True)]
    assert ["from", "baseline:Q4 commit", answer["from"]["commit"], None] in versions
    status, error = mesh.call("/api/compare?from=latest&format=pdf")
    assert status == 400 and "format" in error["error"]
