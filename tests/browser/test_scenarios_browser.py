"""Saved scenarios and downloads on the plan page, in real Chromium against the real mesh.

One mesh for the module (run_all, the sample pulled). A what-if is saved from
the page, listed, opened by its link, compared with the shared plan, exported
with the download buttons, and shown with a broken edit once its item left the
sheet. Screenshots (desktop and phone) go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import copy
import csv
import io
from urllib.parse import quote, quote_plus

import openpyxl
import pytest

from tests.browser.mesh import SCREENSHOTS, sample_mesh
from tests.support import wait_for

playwright_api = pytest.importorskip("playwright.sync_api")

PAGE_TIMEOUT = 15_000  # milliseconds
NAME = "Two more Web"


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    with sample_mesh(tmp_path_factory.mktemp("scenarios-browser")) as mesh:
        yield mesh


@pytest.fixture
def visit(mesh, browser):
    """``visit(path, width, height)``: a fresh page with its work table drawn; no script errors."""
    opened = []

    def go(path: str, width: int = 1280, height: int = 900):
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        page.set_default_timeout(PAGE_TIMEOUT)
        page.errors = []
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        page.on("dialog", lambda dialog: (page.errors.append(dialog.message), dialog.dismiss()))
        opened.append((context, page))
        page.goto(mesh.base + path)
        page.wait_for_selector("#work tbody tr")
        return page

    yield go
    for context, _ in opened:
        context.close()
    for _, page in opened:
        assert not page.errors, f"script errors or dialogs: {page.errors}"


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def add_web_people(page, count: str = "2") -> None:
    form = page.locator("#add-people")
    form.locator('select[name="skill"]').select_option("Web")
    form.locator('select[name="track"]').select_option("Checkout")
    form.locator('input[name="count"]').fill(count)
    form.locator('button[type="submit"]').click()
    page.wait_for_selector("#whatif-banner:not([hidden])")
    page.wait_for_selector("#work tbody tr.marked")


def test_save_a_whatif_list_it_and_open_it_by_its_link(mesh, visit):
    page = visit("/?track=Checkout")
    assert "scenario" not in page.locator("#download-csv").get_attribute("href")
    add_web_people(page)
    assert page.locator("#download-note").is_visible()  # unsaved: the downloads say so
    page.locator("#scenario-name").fill(NAME)
    page.locator("#save-scenario button").click()
    page.wait_for_url(f"**/?track=Checkout&triage=3&scenario={quote_plus(NAME)}")
    page.wait_for_selector(f'#scenarios li[data-name="{NAME}"]')
    tag = page.locator("#scenario-tag")
    wait_for(lambda: tag.inner_text() == f"Scenario “{NAME}”", 10, what="the scenario's tag")
    assert "Saved" in page.locator("#scenario-message").inner_text()
    assert page.locator("#download-note").is_hidden()
    assert f"scenario={quote_plus(NAME)}" in page.locator("#download-xlsx").get_attribute("href")
    shot(page, "scenario-saved")
    # The link opens it on another page, compared with the shared plan.
    other = visit(f"/?scenario={quote(NAME)}&track=Checkout")
    other.wait_for_selector("#whatif-banner:not([hidden])")
    assert "+2 Web on Checkout" in other.locator("#edits").inner_text()
    assert other.locator("#compare-card").is_visible()
    _, opened = mesh.call(f"/api/scenarios/{quote(NAME)}?track=Checkout")
    moved = [row for row in opened["view"]["work"] if row["mark"]]
    wait_for(lambda: other.locator("#compare tbody tr").count() == len(moved), 10)
    assert other.locator("#compare tbody tr.improved").count() >= 1
    shot(other, "scenario")
    # Changing it marks it unsaved; "Reset" leaves it and the URL says so.
    other.locator("#edits button").first.click()
    wait_for(lambda: "changed, not saved" in other.locator("#scenario-tag").inner_text(), 10)
    other.locator("#reset").click()
    other.wait_for_url("**/?track=Checkout&triage=3")
    other.wait_for_selector("#whatif-banner[hidden]", state="attached")
    # The list's link opens it too.
    listed = other.locator(f'#scenarios li[data-name="{NAME}"]')
    compare = listed.locator("a.small-link").get_attribute("href")
    assert compare.startswith("/history?") and "scenario%3ATwo" in compare  # compare it there
    listed.locator("a.scenario-link").click()
    # (the page then rewrites its URL with the track and triage: either is the scenario's)
    wait_for(lambda: f"scenario={quote_plus(NAME)}" in other.url.replace("%20", "+"), 15)
    other.wait_for_selector("#whatif-banner:not([hidden])")


def test_download_buttons_give_the_view_as_csv_and_excel(mesh, visit):
    page = visit(f"/?scenario={quote(NAME)}&track=Checkout&triage=2")
    page.wait_for_selector("#whatif-banner:not([hidden])")
    _, opened = mesh.call(f"/api/scenarios/{quote(NAME)}?track=Checkout&triage=2")
    ids = [row["id"] for row in opened["view"]["work"]]
    with page.expect_download() as got:
        page.locator("#download-csv").click()
    download = got.value
    assert download.suggested_filename.endswith("-scenario-Two_more_Web.csv")
    assert "triage-2" in download.suggested_filename
    with open(download.path(), encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert [row[1] for row in rows[1:]] == ids
    with page.expect_download() as got:
        page.locator("#download-xlsx").click()
    with open(got.value.path(), "rb") as handle:
        book = openpyxl.load_workbook(io.BytesIO(handle.read()))
    assert book.sheetnames == ["Work", "Staffing", "Version"]
    assert [row[1] for row in book["Work"].iter_rows(min_row=2, values_only=True)] == ids


def test_a_scenario_whose_item_left_the_sheet_shows_the_broken_edit(mesh, visit):
    checkout = [row for row in mesh.sheets["work"][1:] if row[3] == "Checkout"]
    gone = checkout[-1]
    edits = [
        {"op": "set_rank", "item": gone[1], "rank": 1},
        {"op": "add_people", "skill": "Apps", "track": "Checkout", "count": 1},
    ]
    assert mesh.call("/api/scenarios", {"name": "Rush it", "edits": edits})[0] == 201
    sheets = copy.deepcopy(mesh.sheets)
    sheets["work"] = [row for row in sheets["work"] if row[1] != gone[1]]
    mesh.plan_for(mesh.pull_sheets(sheets, "without"), timeout=60)
    page = visit("/?scenario=Rush%20it&track=Checkout")
    broken = page.locator("#edits li.broken")
    broken.wait_for()
    assert "No longer applies" in broken.inner_text() and gone[1] in broken.inner_text()
    assert "+1 Apps on Checkout" in page.locator("#edits").inner_text()
    shot(page, "scenario-broken")
    phone = visit("/?scenario=Rush%20it&track=Checkout", 390, 844)
    phone.locator("#edits li.broken").wait_for()
    overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1
    shot(phone, "scenario-phone")


def test_delete_a_scenario_from_the_list(mesh, visit):
    page = visit("/")
    item = page.locator('#scenarios li[data-name="Rush it"]')
    item.wait_for()
    item.locator("button").click()
    wait_for(lambda: item.count() == 0, 10, what="the deleted scenario to leave the list")
    assert "Deleted" in page.locator("#scenario-message").inner_text()
    names = [s["name"] for s in mesh.call("/api/scenarios")[1]["scenarios"]]
    assert names == [NAME]
    shot(page, "scenarios-list")
