"""Messy workbooks, pulled and conditioned for real: every cell that cannot be used is named.

Each case of ``tests/messy_workbooks.py`` is written to a real file (.xlsx, .ods or a folder
of .csv), read by pull_raw's readers and conditioned with the shipped config.ini's settings;
the problems it must give, on the item they belong to, and its effect on the plan are checked.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pull_raw
from condition_service.conditioner import Settings, condition
from mesh.config import Config
from tests.examples import WORKED, raw
from tests.messy_workbooks import CASES, Case, write
from tests.support import (
    PYTHON,
    ROOT,
    Proc,
    service_args,
    store_client,
    wait_for,
    wait_for_store,
    write_config,
)

SETTINGS = Settings.from_config(Config(ROOT / "config.ini"))
VISIBLE = re.compile(r"[^\s\x00-\x1f\x7f-\x9f]")


def test_there_are_at_least_forty_workbooks_in_every_format():
    assert len(CASES) >= 40
    assert {case.kind for case in CASES} == {"xlsx", "ods", "csv"}
    assert len({case.name for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_a_messy_workbook_gives_its_problems_and_its_plan(case: Case, tmp_path: Path):
    path = write(case, tmp_path)
    files = pull_raw.raw_files(pull_raw.read_sheets(pull_raw.resolve_source(str(path))))
    result = condition(files, SETTINGS)
    for severity, text, item in case.problems:
        found = [
            p
            for p in result.problems
            if p.severity == severity and text in p.message and (item is None or p.item == item)
        ]
        assert found, f"no {severity} like {text!r} on {item}: {result.problems}"
    if not case.problems:
        assert not [p for p in result.problems if p.severity != "warning"], result.problems
    assert case.check(result), result


# -- properties ----------------------------------------------------------------------------

CELL = st.one_of(
    st.sampled_from(["", "Apps:S", "2w", "XL", "M-L", "2-3w", "TBD", "?", "-", "Apps:2 days",
                     "Web:1 month", "=SUM(A1)", "Oct 7, 2013", "urgent", "Apps:", ":3"]),
    st.integers(-5, 100),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.text(max_size=12),
)  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(CELL, CELL, CELL), min_size=1, max_size=6))
def test_every_estimate_cell_is_used_or_named_on_its_item(rows):
    """No cell value of any type makes the conditioner raise, and none vanishes silently."""
    header = ["ID", "Name", "Track", "Estimate", "Apps", "Triage"]
    work = [header]
    for n, (estimate, apps, triage) in enumerate(rows):
        work.append([f"W{n}", f"Item {n}", "Track1", estimate, apps, triage])
    sheets = {**WORKED, "work": work}
    result = condition(raw(sheets), SETTINGS)
    if result.model is None:
        return
    for item in result.model.work:
        row = next(r for r in work[1:] if r[0] == item.id)
        # A cell with nothing visible in it (spaces, control characters) is an empty cell.
        cells = [c for c in (row[3], row[4]) if c is not None and VISIBLE.search(str(c))]
        if not cells:
            continue
        named = [p for p in result.problems if p.item == item.id]
        assert item.estimate or named, (row, result.problems)


# -- a handful through the whole mesh ------------------------------------------------------


def _plan_of(store, raw_sha: str) -> dict:
    """The plan made (through conditioned) from raw commit ``raw_sha``."""

    def made() -> dict | None:
        latest = store.latest("plan")
        if latest.lineage.get("raw") != raw_sha:
            return None
        return json.loads(store.get("plan").files["plan.json"])

    return wait_for(made, 30, 0.1, f"the plan of raw@{raw_sha[:12]}")


def _pull(config: Path, path: Path) -> str:
    done = subprocess.run(
        [PYTHON, str(ROOT / "pull_raw.py"), "--config", str(config), str(path)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip().splitlines()[-1].split()[-1]


def test_messy_workbooks_through_the_mesh_never_shrink_the_plan(tmp_path: Path):
    config = write_config(tmp_path)
    procs = [Proc(service_args("snapshot_service", config), tmp_path / "store.out")]
    try:
        wait_for_store(config)
        for name in ("condition_service", "qplan_service"):
            procs.append(Proc(service_args(name, config), tmp_path / f"{name}.out"))
        by_name = {case.name: case for case in CASES}
        with store_client(config, timeout=5) as store:
            good = _plan_of(store, _pull(config, write(by_name["estimate-weeks-w"], tmp_path)))
            items = len(good["by_track"]["All"]["work"])
            assert items == 6
            for name in ("work-with-a-header-and-no-rows", "staff-with-a-header-and-no-rows"):
                plan = _plan_of(store, _pull(config, write(by_name[name], tmp_path)))
                assert len(plan["by_track"]["All"]["work"]) == items, name
                assert plan["status"]["stale"] is True
                assert any(p["severity"] == "fatal" for p in plan["problems"])
            plan = _plan_of(store, _pull(config, write(by_name["estimate-tbd"], tmp_path)))
            login = next(i for i in plan["by_track"]["Track1"]["work"] if i["id"] == "W10")
            assert login["unsized"] is True and login["end"] is None
            assert "not sized yet" in login["problems"][0]["message"]
            plan = _plan_of(
                store, _pull(config, write(by_name["formula-without-saved-value"], tmp_path))
            )
            login = next(i for i in plan["by_track"]["All"]["work"] if i["id"] == "W10")
            assert "formula" in login["problems"][0]["message"]
            assert len(plan["by_track"]["All"]["work"]) == items
    finally:
        for proc in reversed(procs):
            proc.stop()
