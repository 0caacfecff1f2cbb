"""The history page in real Chromium against the real mesh: baselines, compare and blame.

One mesh for the module (run_all in a temp folder): the sample is pulled and named
"Q4 commit" from the page, then a sheet where one item grew, one person left and an item
was added above the others. Screenshots (desktop and phone) go to
test-artifacts/screenshots/.
"""

from __future__ import annotations

import copy
import urllib.parse

import pytest

from tests.browser.mesh import SCREENSHOTS, sample_mesh
from tests.support import wait_for

playwright_api = pytest.importorskip("playwright.sync_api")

PAGE_TIMEOUT = 15_000  # milliseconds
BASELINE = "Q4 commit"
COMPARE = "/history?" + urllib.parse.urlencode(
    {"from": f"baseline:{BASELINE}", "to": "latest", "track": "All"}
)


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    """run_all with every service; the sample pulled and planned."""
    with sample_mesh(tmp_path_factory.mktemp("history-browser")) as mesh:
        yield mesh


@pytest.fixture
def visit(mesh, browser):
    """``visit(path, width, height)``: a fresh page of the mesh's web; no script errors."""
    contexts, errors = [], []

    def go(path: str, width: int = 1280, height: int = 900):
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(PAGE_TIMEOUT)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("dialog", lambda dialog: (errors.append(dialog.message), dialog.dismiss()))
        page.goto(mesh.base + path)
        return page

    yield go
    for context in contexts:
        context.close()
    assert not errors, f"script errors or dialogs: {errors}"


def shot(page, name: str) -> None:
    """The first two screens of the page (a compare can be hundreds of rows long)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    clip = {"x": 0, "y": 0, "width": size["width"], "height": 2 * size["height"]}
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True, clip=clip)


def rows_text(page) -> list[str]:
    return page.locator("#compare-table tbody tr").all_inner_texts()


@pytest.fixture(scope="module")
def changed(mesh, browser):
    """A baseline named on the page, then a pull that moves items; the API's compare."""
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(PAGE_TIMEOUT)
    page.goto(mesh.base + "/history")
    page.wait_for_selector("#versions tbody tr[data-commit]")
    page.locator("#baseline-name").fill(BASELINE)
    page.locator("#save-baseline").click()
    wait_for(lambda: "Saved" in page.locator("#baseline-status").inner_text(), 15, what="saved")
    page.wait_for_selector(f'#baseline-buttons button[data-name="{BASELINE}"]')
    context.close()
    sheets = copy.deepcopy(mesh.sheets)
    work = sheets["work"]
    work[3][5] = 40  # the third item needs 40 weeks of Apps: everything below it slips
    work.insert(2, [15, "QP-NEW", "Added near the top", work[1][3], 1, 3, "", "", "", ""])
    sheets["staff"].pop(1)
    mesh.plan_for(mesh.pull_sheets(sheets, "changed"))
    status, answer = mesh.call("/api/compare?" + COMPARE.split("?")[1])
    assert status == 200, answer
    return answer


def test_the_compare_url_shows_slips_coloured_with_their_causes(changed, visit):
    page = visit(COMPARE)
    page.wait_for_selector("#compare-table tbody tr.slipped")
    shown = [r for r in changed["rows"] if r["status"] != "unchanged"]
    assert page.locator("#compare-table tbody tr").count() == len(shown)
    ids = page.locator("#compare-table tbody tr").evaluate_all("rs => rs.map(r => r.dataset.id)")
    assert ids == [r["id"] for r in shown] and len(set(ids)) == len(ids)
    first = page.locator("#compare-table tbody tr").first
    top = shown[0]
    assert "slipped" in first.get_attribute("class")
    assert first.locator("td.slip").inner_text() == f"+{top['days_slipped']}"
    color = first.locator("td.slip").evaluate("td => getComputedStyle(td).color")
    assert color == "rgb(198, 40, 40)"  # the page's red
    why = first.locator("td.why").inner_text()
    assert top["causes"][0]["text"] in why and top["causes"][0]["sheet"] in why
    added = page.locator('#compare-table tbody tr[data-id="QP-NEW"]')
    assert "added" in added.get_attribute("class")
    assert "its row was added" in added.inner_text()
    assert f"{changed['counts']['slipped']} slipped" in page.locator("#counts").inner_text()
    versions = page.locator("#versions tbody").inner_text()
    assert BASELINE in versions and "latest" in versions
    # The download buttons carry the comparison on screen.
    for button, kind in (("#compare-csv", "csv"), ("#compare-xlsx", "xlsx")):
        href = page.locator(button).get_attribute("href")
        assert href.startswith("/api/compare?") and f"format={kind}" in href
        assert "from=baseline" in href
    shot(page, "history-compare")
    # A reload shows the same comparison.
    before = rows_text(page)
    page.reload()
    page.wait_for_selector("#compare-table tbody tr.slipped")
    assert rows_text(page) == before


def test_since_a_baseline_is_one_click_and_lands_in_the_url(changed, visit):
    page = visit("/history")
    page.wait_for_selector(f'#baseline-buttons button[data-name="{BASELINE}"]')
    page.locator(f'#baseline-buttons button[data-name="{BASELINE}"]').click()
    page.wait_for_selector("#compare-table tbody tr.slipped")
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(page.url).query)
    assert query["from"] == [f"baseline:{BASELINE}"] and query["to"] == ["latest"]
    opened = visit("/history?" + urllib.parse.urlsplit(page.url).query)
    opened.wait_for_selector("#compare-table tbody tr.slipped")
    assert rows_text(opened) == rows_text(page)
    # "Since last week" on a store made today: it says there was no plan yet.
    page.locator("#since-week").click()
    page.wait_for_selector("#history-error:not([hidden])")
    assert "no plan yet" in page.locator("#history-error").inner_text()
    assert "from=date%3A" in page.url


def test_a_track_compare_and_the_details(changed, visit):
    page = visit(COMPARE)
    page.wait_for_selector("#compare-table tbody tr.slipped")
    track = changed["rows"][0]["track"]
    page.locator("#track").select_option(track)
    page.wait_for_url(f"**track={urllib.parse.quote_plus(track)}")
    wait_for(lambda: f"· {track}" in page.locator("#result-title").inner_text(), 10)
    page.locator("#details-box summary").click()
    page.wait_for_selector("#changes .change-group")
    assert "Staffing" in page.locator("#changes").inner_text()
    assert "QP-NEW" in page.locator("#raw-diff").inner_text()


def test_the_compare_fits_a_phone(changed, visit):
    page = visit(COMPARE, width=390, height=844)
    page.wait_for_selector("#compare-table tbody tr.slipped")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1
    assert page.locator("#compare-table thead").is_hidden()  # rows are cards
    shot(page, "history-compare-phone")
