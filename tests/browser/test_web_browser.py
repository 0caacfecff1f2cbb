"""The pages in real Chromium against the real mesh (run_all, pull_raw, every service).

One mesh for the module: run_all in a temp folder, the sample pulled once,
then variants of it pulled as the tests need them. Screenshots of each page
go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import copy
import os
import signal

import pytest

from tests.browser.mesh import SCREENSHOTS, sample_mesh
from tests.support import wait_for

playwright_api = pytest.importorskip("playwright.sync_api")

XSS_NAME = "<img src=x onerror=alert(1)>"
RENAMED = "Renamed by the browser test"
PAGE_TIMEOUT = 15_000  # milliseconds Playwright waits for a selector or a state


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    """run_all with every service; the sample pulled and planned."""
    # A 2 s back-off keeps a killed service "missing" long enough to be seen between beats.
    with sample_mesh(tmp_path_factory.mktemp("browser"), {"backoff_initial": "2"}) as mesh:
        yield mesh


class Watched:
    """A page plus everything it did that a test must not miss: dialogs and script errors."""

    def __init__(self, context) -> None:
        self.context = context
        self.page = context.new_page()
        self.page.set_default_timeout(PAGE_TIMEOUT)
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.page.on("dialog", self._dialog)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()


@pytest.fixture
def open_page(browser):
    """``open_page(url, width=1280, height=900)``: a fresh page; no script errors or dialogs."""
    opened: list[Watched] = []

    def opener(url: str, width: int = 1280, height: int = 900) -> Watched:
        context = browser.new_context(viewport={"width": width, "height": height})
        watched = Watched(context)
        opened.append(watched)
        watched.page.goto(url)
        return watched

    yield opener
    for watched in opened:
        watched.context.close()
    for watched in opened:
        assert not watched.errors, f"script errors: {watched.errors}"
        assert not watched.dialogs, f"dialogs opened: {watched.dialogs}"


@pytest.fixture
def visit(mesh, open_page):
    """``visit(path)``: open a page of the mesh's web and wait for its first data."""

    def go(path: str, width: int = 1280, height: int = 900, ready: str = "#work tbody tr"):
        watched = open_page(mesh.base + path, width, height)
        if ready:
            watched.page.wait_for_selector(ready)
        return watched

    return go


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def cut_count(page) -> tuple[int, int]:
    text = page.locator("#cut-count").inner_text()  # "N of M items"
    inside, _, total, _ = text.split()
    return int(inside), int(total)


def item_row(page, item_id: str):
    return page.locator(f'#work tbody tr[data-id="{item_id}"]')


# -- the plan page ------------------------------------------------------------------------


def test_plan_page_shows_the_sample_plan(mesh, visit):
    page = visit("/").page
    status, view = mesh.call("/api/plan")
    assert status == 200
    tracks = page.locator("#tracks button")
    assert tracks.first.get_attribute("data-track") == "All"
    assert tracks.count() == len(view["tracks"])
    assert cut_count(page) == (view["counts"]["in_cut"], view["counts"]["total"])
    assert page.locator("#work tbody tr.in").count() == view["counts"]["in_cut"]
    assert page.locator("#staffing tbody tr").count() == len(view["staffing"])
    short = [s["skill"] for s in view["staffing"] if s["short"]]
    assert page.locator("#staffing tbody tr.short").count() == len(short)
    version = page.locator("#version").inner_text()
    assert view["commit"][:8] in version and view["lineage"]["raw"][:8] in version
    assert "conditioned" in version
    page.wait_for_function("() => window.Chart && Chart.getChart('chart')")
    assert page.locator("#staff dt").count() > 0
    shot(page, "plan")


def test_slider_and_track_list_change_the_tables_and_the_url(mesh, visit):
    page = visit("/").page
    page.locator('#tracks button[data-track="Checkout"]').click()
    page.wait_for_url("**/?track=Checkout&triage=3")
    page.wait_for_selector('#tracks button.here[data-track="Checkout"]')
    _, checkout = mesh.call("/api/plan?track=Checkout&triage=1")
    page.locator("#triage").fill("1")
    page.wait_for_url("**/?track=Checkout&triage=1")
    expected = (checkout["counts"]["in_cut"], checkout["counts"]["total"])
    wait_for(lambda: cut_count(page) == expected, 10, what="the cut at triage 1")
    assert page.locator("#work tbody tr.beyond").count() == expected[1] - expected[0]
    assert page.locator("#work tr.cut").count() == (1 if expected[0] < expected[1] else 0)
    # The URL is the view: opening it again shows the same track and triage.
    again = visit("/?track=Checkout&triage=1").page
    wait_for(lambda: cut_count(again) == expected, 10, what="the bookmarked view")
    assert again.locator("#triage").input_value() == "1"


def test_a_pulled_change_updates_an_open_page_without_a_reload(mesh, visit):
    page = visit("/?track=All&triage=3").page
    page.evaluate("window.__notReloaded = true")
    sheets = copy.deepcopy(mesh.sheets)
    work = sheets["work"]
    target = work[5]  # a top item: rename it and make it huge, so dates move below it
    target[2] = RENAMED
    target[5:8] = [40, 40, 40]
    item_id = target[1]
    mesh.plan_for(mesh.pull_sheets(sheets, "renamed"))
    row = item_row(page, item_id)
    wait_for(lambda: RENAMED in row.inner_text(), 15, what="the renamed item on the open page")
    assert page.evaluate("window.__notReloaded") is True
    mesh.renamed = sheets


def compare_picked(page) -> None:
    """Compare the two versions picked in the list, and open the details under the rows."""
    page.locator("#compare").click()
    page.wait_for_selector("#compare-table tbody tr")
    page.locator("#details-box summary").click()
    page.wait_for_selector("#changes .change-group")


def test_history_shows_what_changed_between_two_pulls(mesh, visit):
    page = visit("/history", ready="#versions tbody tr").page
    assert page.locator("#versions tbody tr").count() >= 2
    compare_picked(page)
    assert page.locator("#compare-table tbody tr.slipped").count() > 0
    text = page.locator("#changes").inner_text()
    assert "Edited" in text and RENAMED in text
    assert RENAMED in page.locator("#raw-diff").inner_text()
    shot(page, "history")


def test_spreadsheet_text_is_shown_as_text_and_never_run(mesh, visit):
    sheets = copy.deepcopy(mesh.renamed)
    sheets["work"][3][2] = XSS_NAME
    item_id = sheets["work"][3][1]
    mesh.plan_for(mesh.pull_sheets(sheets, "xss"))
    watched = visit("/")
    page = watched.page
    cell = item_row(page, item_id).locator("td.name")
    assert cell.inner_text() == XSS_NAME
    assert page.locator("#work img").count() == 0
    history = visit("/history", ready="#versions tbody tr").page
    compare_picked(history)
    assert XSS_NAME in history.locator("#changes").inner_text()
    assert history.locator("#result img").count() == 0
    # The open_page fixture fails the test if any dialog (alert) opened.


# -- what-ifs -------------------------------------------------------------------------------


def _dnf_fixed_by_two_web(mesh) -> str:
    """An item of Checkout that is DNF now and gets a date with two more Web engineers."""
    edit = {"op": "add_people", "skill": "Web", "track": "Checkout", "count": 2}
    status, answer = mesh.call("/api/whatif", {"edits": [edit], "track": "Checkout"})
    assert status == 200, answer
    fixed = [
        row["id"]
        for row in answer["view"]["work"]
        if row.get("mark") and row["mark"]["before"] and row["mark"]["before"]["end"] is None
        and row["end"]
    ]  # fmt: skip
    assert fixed, "two more Web engineers should finish some Checkout item"
    return fixed[0]


def test_a_whatif_turns_a_dnf_into_a_date_on_that_page_only(mesh, visit):
    item_id = _dnf_fixed_by_two_web(mesh)
    mine = visit("/?track=Checkout&triage=3").page
    other = visit("/?track=Checkout&triage=3").page
    assert item_row(mine, item_id).locator("td.end").inner_text() == "DNF"
    form = mine.locator("#add-people")
    form.locator('select[name="skill"]').select_option("Web")
    form.locator('select[name="track"]').select_option("Checkout")
    form.locator('input[name="count"]').fill("2")
    form.locator('button[type="submit"]').click()
    mine.wait_for_selector("#whatif-banner:not([hidden])")
    row = item_row(mine, item_id)
    wait_for(lambda: "marked" in (row.get_attribute("class") or ""), 15, what="the what-if")
    end = row.locator("td.end")
    assert end.locator(".before").inner_text() == "DNF"
    assert end.locator(".after").inner_text() != "DNF"
    assert "+2 Web on Checkout" in mine.locator("#edits").inner_text()
    shot(mine, "whatif")
    # The other viewer still sees the shared plan.
    assert other.locator("#whatif-banner").is_hidden()
    assert item_row(other, item_id).locator("td.end").inner_text() == "DNF"
    mine.locator("#reset").click()
    mine.wait_for_selector("#whatif-banner[hidden]", state="attached")
    wait_for(lambda: item_row(mine, item_id).locator("td.end").inner_text() == "DNF", 10)


def test_a_new_shared_plan_reapplies_the_whatif_edits(mesh, visit):
    page = visit("/?track=Checkout&triage=3").page
    form = page.locator("#add-people")
    form.locator('select[name="skill"]').select_option("Web")
    form.locator('select[name="track"]').select_option("Checkout")
    form.locator('button[type="submit"]').click()
    page.wait_for_selector("#whatif-banner:not([hidden])")
    page.wait_for_selector("#work tbody tr.marked")
    sheets = copy.deepcopy(mesh.renamed)
    checkout = next(row for row in sheets["work"][1:] if row[3] == "Checkout")
    checkout[2] = "Changed while in a what-if"
    raw = mesh.pull_sheets(sheets, "during-whatif")
    mesh.plan_for(raw)
    row = item_row(page, checkout[1])
    wait_for(lambda: "Changed while in a what-if" in row.inner_text(), 15, what="the new plan")
    assert page.locator("#whatif-banner").is_visible()
    assert "+1 Web on Checkout" in page.locator("#edits").inner_text()
    assert raw[:8] in page.locator("#version").inner_text()
    mesh.renamed = sheets


def test_a_bad_whatif_edit_is_reported_and_dropped(mesh, visit):
    page = visit("/?track=Checkout").page
    page.locator("#work tbody tr.in").first.click()
    form = page.locator("#edit-item")
    form.locator('input[name="estimate"]').fill("Apps 3")
    form.locator('button[type="submit"]').click()
    error = page.locator("#whatif-error")
    error.wait_for()
    assert "Skill:size" in error.inner_text()
    assert page.locator("#whatif-banner").is_hidden()
    # Edits the planner refuses: the page says why and drops them.
    for estimate, said in (("Juggling:3", "unknown skill"), ("Apps:lots", "not an estimate")):
        form.locator('input[name="estimate"]').fill(estimate)
        form.locator('button[type="submit"]').click()
        wait_for(lambda said=said: said in error.inner_text(), 15, what="the planner's refusal")
        assert "Not applied" in error.inner_text()
        assert "none" in page.locator("#edits").inner_text()
        assert page.locator("#whatif-banner").is_hidden()
        page.locator("#work tbody tr.in").first.click()


def test_a_what_if_takes_sizes_as_the_workbook_writes_them(mesh, visit):
    page = visit("/?track=Checkout").page
    page.locator("#work tbody tr.in").first.click()
    form = page.locator("#edit-item")
    form.locator('input[name="estimate"]').fill("Apps:M, Web:2w")
    form.locator('button[type="submit"]').click()
    page.wait_for_selector("#whatif-banner:not([hidden])")
    assert "Apps:M, Web:2w" in page.locator("#edits").inner_text()
    assert page.locator("#whatif-error").is_hidden()


# -- the dashboard ---------------------------------------------------------------------------


def _row_status(page, component: str) -> str | None:
    return page.locator(f'#components tr[data-component="{component}"]').get_attribute(
        "data-status"
    )


def test_dashboard_shows_a_killed_service_missing_then_back_up(mesh, visit):
    page = visit("/dashboard", ready='#components tr[data-component="condition_service"]').page
    wait_for(lambda: _row_status(page, "condition_service") in ("up", "idle"), 15)
    shot(page, "dashboard")
    pid = mesh.health()["condition_service"]["pid"]
    os.kill(pid, signal.SIGKILL)
    # run_all sees the exit at once and says so in its next beat: well within 3 s.
    wait_for(
        lambda: _row_status(page, "condition_service") == "missing",
        3.0,
        0.05,
        "condition_service to show as missing within 3 s",
    )
    assert page.locator('#graph g.node.missing[data-component="condition_service"]').count() == 1
    wait_for(
        lambda: (
            _row_status(page, "condition_service") in ("up", "idle")
            and mesh.health()["condition_service"]["pid"] not in (None, pid)
        ),
        30,
        0.1,
        "run_all to restart condition_service",
    )
    restarts = page.locator('#components tr[data-component="condition_service"] td').nth(6)
    wait_for(lambda: restarts.inner_text() == "1", 5, what="the restart count")


# -- bad input ---------------------------------------------------------------------------------


def test_bad_requests_get_a_4xx_and_a_bad_websocket_message_an_error(mesh, visit):
    page = visit("/").page
    for path, status in (
        ("/api/plan?track=NoSuchTrack", 404),
        ("/api/plan?triage=9", 400),
        ("/api/history?limit=-1", 400),
        ("/api/diff?from=xyz&to=abc", 400),
    ):
        response = page.request.get(mesh.base + path)
        assert response.status == status, path
        assert response.json()["error"]
    json_body = {"Content-Type": "application/json"}
    response = page.request.post(mesh.base + "/api/whatif", data="{not json", headers=json_body)
    assert response.status == 400 and response.json()["error"]
    response = page.request.post(
        mesh.base + "/api/whatif", data={"edits": [{"op": "set_rank", "item": "NOPE", "rank": 1}]}
    )
    assert response.status == 400 and "NOPE" in response.json()["error"]
    answers = page.evaluate(
        """() => new Promise((resolve, reject) => {
            const ws = new WebSocket(`ws://${location.host}/ws?want=plan`);
            const got = [];
            ws.onmessage = (event) => {
              const message = JSON.parse(event.data);
              got.push(message.type);
              if (message.type === "hello") { ws.send("{oops"); ws.send('{"type": "ping"}'); }
              if (message.type === "pong") { ws.close(); resolve(got); }
            };
            ws.onerror = () => reject(new Error("websocket failed"));
            setTimeout(() => reject(new Error("no pong")), 10000);
        })"""
    )
    assert answers[0] == "hello" and "error" in answers and answers[-1] == "pong"


def test_the_plan_page_fits_a_phone(mesh, visit):
    page = visit("/", width=390, height=844).page
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1
    shot(page, "plan-phone")


def test_a_sheet_that_cannot_be_read_shows_a_banner_over_the_last_good_plan(mesh, visit):
    page = visit("/").page
    good = cut_count(page)
    sheets = copy.deepcopy(mesh.renamed)
    sheets["work"][0][3] = "Where"  # the Track column no longer has a name anyone accepts
    raw = mesh.pull_sheets(sheets, "unreadable")
    mesh.plan_for(raw)
    banner = page.locator("#fatal")
    banner.wait_for()
    assert "showing the last good plan" in banner.inner_text()
    assert "Track" in banner.inner_text()
    assert cut_count(page) == good  # the items of the last good sheet are still shown
    fatal = page.locator("#problems tbody tr.sev-fatal")
    assert fatal.count() == 1 and "work" in fatal.inner_text()
    assert "stale" in page.locator("#version").inner_text()


# -- the timeline, "why", leverage, load and forecast -----------------------------------------


def _forecast_view(mesh, track: str) -> dict:
    """The view of ``track`` once the forecast of the shown plan's data is in it."""

    def ready() -> dict | None:
        status, view = mesh.call(f"/api/plan?track={track}")
        return view if status == 200 and view["forecast"]["state"] == "current" else None

    return wait_for(ready, 60, 0.2, f"the forecast on {track}")


def test_timeline_and_why_on_a_laptop_and_a_phone(mesh, visit):
    view = _forecast_view(mesh, "Checkout")
    page = visit("/?track=Checkout&show=timeline", ready=".tl-label").page
    assert page.locator(".tl-label").count() == len(view["work"])
    assert page.locator(".tl-row").count() == len(view["work"])
    assert page.locator(".tl-bar").count() == sum(1 for r in view["work"] if r["start"])
    clipped = sum(1 for r in view["work"] if r["dnf"] and r["start"])
    assert page.locator(".tl-dnf").count() == clipped
    first = view["work"][0]
    page.locator(".tl-label").first.click()
    why = page.locator("#why").inner_text()
    assert first["name"] in why and first["why_text"] in why
    shot(page, "plan-timeline")
    # The table's "why": a button per row, by mouse and by keyboard.
    page.locator("#show-table").click()
    page.wait_for_url("**/?track=Checkout&triage=3")
    # The item picked on the timeline has its line open in the table too; Enter on its
    # focused button closes it and opens it again.
    button = item_row(page, first["id"]).locator(".why-button")
    assert first["why_text"] in page.locator("#work tr.why-row").inner_text()
    assert button.get_attribute("aria-expanded") == "true"
    button.focus()
    page.keyboard.press("Enter")
    wait_for(lambda: page.locator("#work tr.why-row").count() == 0, 5, what="why closed")
    page.keyboard.press("Enter")
    assert first["why_text"] in page.locator("#work tr.why-row").inner_text()
    assert button.get_attribute("aria-expanded") == "true"
    # Forecast columns, leverage and load panels.
    assert page.locator("#work thead th.fc").first.is_visible()
    dated = next(r for r in view["work"] if r["forecast"] and r["forecast"]["p50"])
    assert item_row(page, dated["id"]).locator("td.fc").first.inner_text() != "—"
    assert page.locator("#leverage tbody tr").count() == len(view["leverage"])
    assert page.locator("#load table.heatmap tbody tr").count() == len(view["load"]["skills"])
    shot(page, "plan-why")
    # On a phone the name and the date stay in view while the chart scrolls.
    phone = visit("/?track=Checkout&show=timeline", 390, 844, ready=".tl-label").page
    phone.locator(".tl-scroll").evaluate("(node) => { node.scrollLeft = 10000; }")
    label = phone.locator(".tl-label").first
    box = label.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    assert label.locator(".tl-when").is_visible()
    label.click()
    assert phone.locator("#why").inner_text().startswith(first["name"])
    shot(phone, "plan-timeline-phone")


def test_leverage_try_button_adds_the_what_if(mesh, visit):
    view = _forecast_view(mesh, "Checkout")
    page = visit("/?track=Checkout").page
    best = view["leverage"][0]
    page.locator("#leverage tbody tr").first.locator("button").click()
    page.wait_for_selector("#whatif-banner:not([hidden])")
    assert f"+1 {best['skill']} on Checkout" in page.locator("#edits").inner_text()
