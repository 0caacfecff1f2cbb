"""The sample workbook: deterministic, current, laid out as README.md "The workbook" says."""

from __future__ import annotations

import datetime as dt
import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

import pull_raw
from tests.support import ROOT

SAMPLE = ROOT / "data" / "sample"
SIZE = re.compile(r"^(\d*)([SMLQ])$")
SIZES = {"S": 1, "M": 2, "L": 3, "Q": 13}
# The vacation forms README.md names: ISO, US and "Oct 12, 2026" dates, ranges, ";" lists.
DATE = r"(\d{4}-\d\d-\d\d|\d{1,2}/\d{1,2}/\d{4}|[A-Z][a-z]{2} \d{1,2}, \d{4})"
VACATION = re.compile(rf"^{DATE}(\s*(-| to )\s*{DATE})?$")
README_COLUMNS = {
    "work": {"ID", "Rank", "Name", "Track", "Triage", "Apps", "Native", "Web", "QA", "UX"},
    "staff": {"ID", "Name", "Team", "Track", "Skill", "Vacation"},
    "params": {"Parameter", "Value"},
    "holidays": {"Date", "Name"},
}


@pytest.fixture(scope="module")
def make_sample() -> ModuleType:
    """data/make_sample.py, imported from its path (data/ is not a package)."""
    spec = importlib.util.spec_from_file_location("make_sample", ROOT / "data" / "make_sample.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def committed() -> dict[str, list[list]]:
    """The committed plan.xlsx as read by pull_raw: sheet name -> rows."""
    sheets = pull_raw.read_sheets(pull_raw.resolve_source(str(SAMPLE / "plan.xlsx")))
    return {sheet.name: sheet.rows for sheet in sheets}


def _estimate(value) -> float:
    """Man-weeks of one estimate cell, as the README defines them."""
    if value in (None, ""):
        return 0.0
    if isinstance(value, (int, float)):
        return float(value)
    match = SIZE.match(value.strip())
    assert match, f"estimate {value!r} is neither a size nor a number"
    return int(match.group(1) or 1) * SIZES[match.group(2)]


def _columns(rows: list[list]) -> dict[str, int]:
    return {name: i for i, name in enumerate(rows[0])}


def test_the_generator_is_deterministic(make_sample, tmp_path: Path) -> None:
    assert make_sample.build_sheets(seed=7) == make_sample.build_sheets(seed=7)
    assert make_sample.build_sheets(seed=7) != make_sample.build_sheets(seed=8)
    sheets = make_sample.build_sheets(seed=7, items=50, people=12)
    make_sample.write_xlsx(sheets, tmp_path / "a.xlsx")
    make_sample.write_xlsx(sheets, tmp_path / "b.xlsx")
    assert (tmp_path / "a.xlsx").read_bytes() == (tmp_path / "b.xlsx").read_bytes()
    assert len(sheets["work"]) == 51 and len(sheets["staff"]) == 13


def test_the_committed_files_are_what_the_generator_makes(make_sample, tmp_path: Path) -> None:
    assert make_sample.main(["--out", str(tmp_path)]) == 0
    assert (tmp_path / "plan.xlsx").read_bytes() == (SAMPLE / "plan.xlsx").read_bytes()
    made = sorted(p.name for p in (tmp_path / "plan").iterdir())
    assert made == sorted(p.name for p in (SAMPLE / "plan").iterdir())
    for name in made:
        assert (tmp_path / "plan" / name).read_bytes() == (SAMPLE / "plan" / name).read_bytes()


def test_workbook_and_csv_folder_hold_the_same_sheets() -> None:
    from_xlsx = pull_raw.raw_files(
        pull_raw.read_sheets(pull_raw.resolve_source(str(SAMPLE / "plan.xlsx")))
    )
    folder = pull_raw.resolve_source(str(SAMPLE / "plan"))
    assert from_xlsx == pull_raw.raw_files(pull_raw.read_sheets(folder))


def test_sheets_and_headers_follow_the_readme(committed) -> None:
    assert list(committed) == ["work", "staff", "params", "holidays"]
    for name, columns in README_COLUMNS.items():
        header = committed[name][0]
        assert set(header) <= columns, f"{name}: unknown columns {set(header) - columns}"
    assert {"Name", "Track", "Apps", "Native", "Web", "QA", "UX"} <= set(committed["work"][0])
    assert {"Name", "Track", "Skill", "Vacation"} <= set(committed["staff"][0])


def test_work_items_are_ranked_estimated_and_triaged(committed) -> None:
    rows = committed["work"]
    col = _columns(rows)
    items = rows[1:]
    assert 280 <= len(items) <= 320
    assert [row[col["Rank"]] for row in items] == [10.0 * (i + 1) for i in range(len(items))]
    assert len({row[col["ID"]] for row in items}) == len(items)
    assert len({row[col["Track"]] for row in items}) == 5
    triages = {row[col["Triage"]] for row in items}
    assert {1, 1.5, 2, 2.5, 3, ""} <= triages
    assert triages - {1, 1.5, 2, 2.5, 3, ""} == {" 2 "}  # the one messy cell
    written = [row[col[s]] for row in items for s in ("Apps", "Native", "Web", "QA", "UX")]
    assert all(_estimate(cell) >= 0 for cell in written)
    texts = {cell for cell in written if isinstance(cell, str)}
    assert {"S", "M", "L", "2M", "3S", "Q"} <= texts
    assert {3.0, 1.5} <= {cell for cell in written if isinstance(cell, float)}


def test_staff_has_skills_tracks_teams_and_mixed_vacations(committed) -> None:
    rows = committed["staff"]
    col = _columns(rows)
    people = rows[1:]
    assert 36 <= len(people) <= 44
    assert {row[col["Skill"]] for row in people} == {"Apps", "Native", "Web", "QA", "UX", "iOS"}
    assert len({row[col["Track"]] for row in people}) == 5
    assert all(row[col["Team"]] for row in people)
    cells = [row[col["Vacation"]] for row in people if row[col["Vacation"]] != ""]
    assert any(isinstance(cell, dt.date) for cell in cells), "no real date cell"
    texts = [cell for cell in cells if isinstance(cell, str)]
    assert any(";" in cell for cell in texts)
    assert any(re.search(r"\d/\d+/\d{4}-\d", cell) for cell in texts)
    assert any(re.search(r"[A-Z][a-z]{2} \d", cell) for cell in texts)
    assert "12/1/2026 to 12/3/2026" in texts
    for cell in texts:
        for part in cell.split(";"):
            assert VACATION.match(part.strip()), f"vacation {part!r} is not a README form"


def test_params_and_holidays_are_real_dates(committed) -> None:
    assert committed["params"] == [
        ["Parameter", "Value"],
        ["Start", dt.date(2026, 10, 1)],
        ["End", dt.date(2026, 12, 31)],
        ["Scheduled skills", "Apps, Native, Web"],
    ]
    holidays = {row[0]: row[1] for row in committed["holidays"][1:]}
    assert holidays == {
        dt.date(2026, 11, 26): "Thanksgiving",
        dt.date(2026, 11, 27): "Day after Thanksgiving",
        dt.date(2026, 12, 24): "Christmas Eve",
        dt.date(2026, 12, 25): "Christmas Day",
    }


def test_demand_exceeds_capacity_and_checkout_is_short_of_web(committed) -> None:
    work, staff = committed["work"], committed["staff"]
    wcol, scol = _columns(work), _columns(staff)
    weeks = 13  # an upper bound on each person's man-weeks in the quarter
    people = {}
    for row in staff[1:]:
        key = (row[scol["Track"]], row[scol["Skill"]])
        people[key] = people.get(key, 0) + 1
    demand: dict[tuple[str, str], float] = {}
    for row in work[1:]:
        for skill in ("Apps", "Native", "Web"):
            key = (row[wcol["Track"]], skill)
            demand[key] = demand.get(key, 0.0) + _estimate(row[wcol[skill]])
    total_capacity = weeks * sum(n for (_, s), n in people.items() if s in ("Apps", "Web"))
    total_demand = sum(d for (_, s), d in demand.items() if s in ("Apps", "Web"))
    assert total_demand > 2 * total_capacity
    assert people[("Checkout", "Web")] == 1
    assert demand[("Checkout", "Web")] > 5 * weeks
    # The top of the list fits: the ten best-ranked items need far less than a quarter.
    top = work[1:11]
    for skill in ("Apps", "Native", "Web"):
        assert sum(_estimate(row[wcol[skill]]) for row in top) < weeks * 8


def test_the_plan_of_the_sample_is_interesting() -> None:
    """Conditioned and planned for real: top items finish, the tail does not, Web is short."""
    from condition_service.conditioner import Settings, condition
    from formats.streams import Person
    from planning.planner import compute_plan

    files = pull_raw.raw_files(pull_raw.read_sheets(pull_raw.resolve_source(str(SAMPLE / "plan"))))
    settings = Settings(skill_aliases={"ios": "Native"})
    conditioned = condition(files, settings)
    assert conditioned.problems == []
    model = conditioned.model
    plan = compute_plan(model)
    work = plan["by_track"]["All"]["work"]
    assert all(item["end"] for item in work[:20]), "a top-20 item does not finish"
    assert sum(1 for item in work if item["end"] is None) > len(work) / 3

    def finished(plan: dict, track: str) -> int:
        return sum(1 for item in plan["by_track"][track]["work"] if item["end"])

    hires = tuple(
        Person(f"new-web-{n}", f"New Web {n}", "Frontend", "Checkout", "Web") for n in (1, 2)
    )
    model.staff = tuple(model.staff) + hires
    more = compute_plan(model)
    assert finished(more, "Checkout") >= finished(plan, "Checkout") + 5
