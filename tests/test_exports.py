"""Exports: CSV and Excel read back equal the page's table, and sheet text never becomes a formula.

The writers on their own first (``web.exports``), then the real mesh (run_all,
the sample workbook with item names that look like formulas, the forecast):
for two tracks and two triage cuts, the CSV and the .xlsx of ``/api/export``,
read back with the csv module and openpyxl, hold exactly the rows of the view
``/api/plan`` gives the page, in the page's order.
"""

from __future__ import annotations

import copy
import csv
import datetime as dt
import io
import json
import urllib.request
import zipfile
from urllib.parse import quote, unquote

import openpyxl
import pytest

from tests.browser.mesh import MeshUnderTest, make_sample
from tests.support import store_client, wait_for
from web.exports import Sheet, content_disposition, csv_bytes, xlsx_bytes

RISKY = ['=HYPERLINK("http://example.com","click")', "+1+2", "-2+3", "@SUM(A1)", "\tx", "\rx"]
VIEWS = [("All", "3"), ("All", "1.5"), ("Checkout", "3"), ("Checkout", "1.5")]


def read_csv(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # a BOM: Excel reads the UTF-8 names right
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def read_xlsx(data: bytes) -> dict[str, list[tuple]]:
    book = openpyxl.load_workbook(io.BytesIO(data))
    return {sheet.title: list(sheet.iter_rows(values_only=True)) for sheet in book}


# -- the writers -------------------------------------------------------------------------------


def test_text_that_looks_like_a_formula_is_written_as_text():
    day = dt.date(2026, 10, 5)
    rows = [[name, -1.5, 3, day, None] for name in [*RISKY, "plain", "a-b"]]
    columns = ["Name", "Shortage", "Rank", "Date", "Empty"]
    back = read_csv(csv_bytes(columns, rows))
    assert back[0] == columns
    for name, line in zip([*RISKY, "plain", "a-b"], back[1:], strict=True):
        # csv: a single quote in front of risky text only; numbers stay numbers.
        assert line == [("'" + name) if name in RISKY else name, "-1.5", "3", "2026-10-05", ""]
    data = xlsx_bytes([Sheet("Work", columns, rows)])
    book = openpyxl.load_workbook(io.BytesIO(data))
    cells = list(book["Work"].iter_rows(min_row=2))
    for name, line in zip([*RISKY, "plain", "a-b"], cells, strict=True):
        # Exact text, typed text (XML reads a bare CR as a line feed; names never hold one).
        assert line[0].value == name.replace("\r", "\n") and line[0].data_type == "s"
        assert line[0].quotePrefix == (name in RISKY)
        assert line[1].value == -1.5 and line[1].data_type == "n"
        assert line[3].value == dt.datetime(2026, 10, 5) and line[3].is_date
    with zipfile.ZipFile(io.BytesIO(data)) as parts:
        sheet_xml = parts.read("xl/worksheets/sheet1.xml")
    assert b"<f>" not in sheet_xml and b"<f " not in sheet_xml  # no formula anywhere


def test_sheet_titles_and_file_names_are_made_safe():
    data = xlsx_bytes([Sheet("a/b:c", ["x"], []), Sheet("a_b_c", ["x"], []), Sheet("", [], [])])
    assert list(read_xlsx(data)) == ["a_b_c", "a_b_c 2", "Sheet"]
    header = content_disposition('qplan-Zahlung "Ü"-triage-3.csv')
    exact = header.split("filename*=UTF-8''")[1]  # RFC 5987: what browsers use
    assert unquote(exact) == 'qplan-Zahlung "Ü"-triage-3.csv' and '"' not in exact
    assert 'filename="qplan-Zahlung_-triage-3.csv"' in header


# -- through the mesh ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    mesh = MeshUnderTest(tmp_path_factory.mktemp("exports"))
    mesh.start()
    try:
        sheets = make_sample().build_sheets()
        checkout = [row for row in sheets["work"][1:] if row[3] == "Checkout"]
        # Names a spreadsheet program would run. A cell starting with "=" is a formula to the
        # conditioner (a problem, left empty), so "=" names reach a plan only another way.
        for row, name in zip(checkout, RISKY[1:4], strict=False):
            row[2] = name
        mesh.risky = {row[1]: row[2] for row in checkout[:3]}
        mesh.plan_for(mesh.pull_sheets(copy.deepcopy(sheets), "risky"), timeout=60)
        yield mesh
    finally:
        mesh.stop()


def fetch(mesh, path: str) -> tuple[bytes, dict]:
    with urllib.request.urlopen(mesh.base + path, timeout=30) as response:
        return response.read(), dict(response.headers)


def view_with_forecast(mesh, track: str, triage: str) -> dict:
    def ready():
        status, view = mesh.call(f"/api/plan?track={track}&triage={triage}")
        return view if status == 200 and view["forecast"]["state"] == "current" else None

    return wait_for(ready, 60, 0.2, f"the forecast of {track}")


def page_table(view: dict) -> tuple[list[str], list[list]]:
    """The work table as the page's JSON says it, cell by cell (dates as dates)."""
    skills = view["skills"]
    columns = ["Rank", "ID", "Name", "Track", "Triage", "In cut"]
    columns += [f"Estimate {s}" for s in skills] + [f"Shortage {s}" for s in skills]
    columns += ["Start", "Dev complete", "P50", "P85"]
    day = dt.date.fromisoformat
    rows = []
    for item in view["work"]:
        row = [item["rank"], item["id"], item["name"], item["track"], item["triage"]]
        row.append("yes" if item["in_cut"] else "no")
        row += [item["estimate"].get(s) for s in skills]
        row += [item["shortage"].get(s) for s in skills]
        row += [day(item["start"]) if item["start"] else None]
        row += [day(item["end"]) if item["end"] else "DNF"]
        forecast = item["forecast"]
        row += [day(forecast[k]) if forecast[k] else "after the quarter" for k in ("p50", "p85")]
        rows.append(row)
    return columns, rows


def as_csv_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float | int):
        return f"{value:g}"
    return "'" + value if value.startswith(("=", "+", "-", "@", "\t", "\r")) else value


def as_xlsx(value):
    return value.date() if isinstance(value, dt.datetime) else value


@pytest.mark.parametrize(("track", "triage"), VIEWS)
def test_csv_and_xlsx_equal_the_pages_table(mesh, track, triage):
    view = view_with_forecast(mesh, track, triage)
    columns, rows = page_table(view)
    if triage != "3":
        assert any(row[5] == "no" for row in rows)  # the cut is in the file too
    query = f"track={track}&triage={triage}"
    data, headers = fetch(mesh, f"/api/export?format=csv&{query}")
    assert headers["Content-Type"].startswith("text/csv")
    name = f"qplan-{track}-triage-{triage.replace('.', '_')}-{view['commit'][:8]}.csv"
    assert headers["Content-Disposition"] == content_disposition(name)
    back = read_csv(data)
    assert back[0] == columns
    assert back[1:] == [[as_csv_text(v) for v in row] for row in rows]
    data, headers = fetch(mesh, f"/api/export?format=xlsx&{query}")
    assert headers["Content-Type"].startswith("application/vnd.openxmlformats")
    sheets = read_xlsx(data)
    assert list(sheets) == ["Work", "Staffing", "Version"]
    assert list(sheets["Work"][0]) == columns
    assert [[as_xlsx(v) for v in row] for row in sheets["Work"][1:]] == rows
    staffing = [
        (s["skill"], s["available"], s["required"], s["net"], "yes" if s["short"] else "no")
        for s in view["staffing"]
    ]
    assert [row[:5] for row in sheets["Staffing"][1:]] == staffing
    version = {row[0]: row[1] for row in sheets["Version"][1:] if row[0]}
    assert version["plan"] == view["commit"]
    assert version["conditioned"] == view["lineage"]["conditioned"]
    assert version["raw"] == view["lineage"]["raw"]
    assert version["track"] == track and version["triage cut"] == float(triage)


def _put_plan_with_names(mesh, names: dict[str, str]) -> str:
    """PUT the shown plan again with some items renamed, as a filter_command could plan it."""
    plan = json.loads(fetch(mesh, "/api/plan.json")[0])
    for track in plan["by_track"].values():
        for item in track["work"]:
            item["name"] = names.get(item["id"], item["name"])
    source = f"conditioned@{plan['lineage']['conditioned']}"
    with store_client(mesh.config_path, timeout=5) as store:
        put = store.put("plan", {"plan.json": json.dumps(plan)}, source=source, producer="test")
    wait_for(lambda: mesh.call("/api/plan")[1]["commit"] == put["commit"], 20, 0.1, "the plan")
    return put["commit"]


def test_names_that_look_like_formulas_stay_text_in_both_files(mesh):
    rows = mesh.call("/api/plan?track=Checkout")[1]["work"]
    assert {r["id"]: r["name"] for r in rows if r["id"] in mesh.risky} == mesh.risky  # pulled
    names = {**mesh.risky, rows[-1]["id"]: RISKY[0], rows[-2]["id"]: "=1+1"}
    _put_plan_with_names(mesh, names)
    data = fetch(mesh, "/api/export?format=xlsx&track=Checkout")[0]
    book = openpyxl.load_workbook(io.BytesIO(data))
    cells = {row[1].value: row[2] for row in book["Work"].iter_rows(min_row=2)}
    for item, name in names.items():
        assert cells[item].value == name and cells[item].data_type == "s", item
    with zipfile.ZipFile(io.BytesIO(data)) as parts:
        assert b"<f>" not in parts.read("xl/worksheets/sheet1.xml")
    lines = read_csv(fetch(mesh, "/api/export?format=csv&track=Checkout")[0])
    by_id = {line[1]: line[2] for line in lines[1:]}
    for item, name in names.items():
        assert by_id[item] == "'" + name, item


def test_a_scenario_exports_its_own_plan_against_the_shared_one(mesh):
    edits = [{"op": "add_people", "skill": "Web", "track": "Checkout", "count": 2}]
    status, _ = mesh.call("/api/scenarios", {"name": "Web x2", "edits": edits})
    assert status == 201
    status, opened = mesh.call("/api/scenarios/Web%20x2?track=Checkout")
    sheets = read_xlsx(fetch(mesh, "/api/export?format=xlsx&track=Checkout&scenario=Web%20x2")[0])
    work = sheets["Work"]
    assert work[0][-1] == "Shared plan dev complete"
    ends = {row[1]: (as_xlsx(row[17]), as_xlsx(row[-1])) for row in work[1:]}
    moved = [r for r in opened["view"]["work"] if r["mark"] and r["mark"]["before"]]
    assert moved
    for row in moved:
        before = row["mark"]["before"]["end"]
        after, shared = ends[row["id"]]
        assert after == (dt.date.fromisoformat(row["end"]) if row["end"] else "DNF")
        assert shared == (dt.date.fromisoformat(before) if before else "DNF")
    version = {row[0]: row[1:] for row in sheets["Version"][1:] if row[0]}
    assert version["scenario"][0] == "Web x2"
    _, headers = fetch(mesh, f"/api/export?format=csv&track=Checkout&scenario={quote('Web x2')}")
    assert "scenario-Web_x2.csv" in headers["Content-Disposition"]
    for path, status in (
        ("/api/export?format=pdf", 400),
        ("/api/export?track=Nowhere", 404),
        ("/api/export?triage=7", 400),
        ("/api/export?scenario=nobody", 404),
        ("/api/export?table=people", 400),
    ):
        assert mesh.call(path)[0] == status, path
