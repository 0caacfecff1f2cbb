"""The conditioner as plain functions: raw sheets in, streams text and problems out."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pull_raw
from condition_service.cells import parse_date, parse_days, parse_weeks, split_estimate
from condition_service.conditioner import Conditioned, Settings, condition
from condition_service.problems import Problem
from formats.streams import parse_streams
from mesh.config import Config
from tests.examples import SETTINGS, WORKED, raw
from tests.support import ROOT, write_config

SAMPLE = ROOT / "data" / "sample"
FIXTURES = Path(__file__).parent / "fixtures"


def run(sheets: dict[str, list[list]], config: Settings = SETTINGS) -> Conditioned:
    """Condition sheets given as lists of rows."""
    return condition(raw(sheets), config)


def worked(**changes: list[list]) -> dict[str, list[list]]:
    """A copy of the worked example with some sheets replaced."""
    sheets = copy.deepcopy(WORKED)
    sheets.update(changes)
    return sheets


def edited(sheet: str, row: int, column: str, value) -> dict[str, list[list]]:
    """The worked example with one cell changed (``row`` counts data rows from 1)."""
    sheets = copy.deepcopy(WORKED)
    rows = sheets[sheet]
    rows[row][rows[0].index(column)] = value
    return sheets


def only(result: Conditioned, **match) -> Problem:
    """The one problem whose fields equal ``match``."""
    found = [p for p in result.problems if all(getattr(p, k) == v for k, v in match.items())]
    assert len(found) == 1, f"expected one problem like {match}, got {result.problems}"
    return found[0]


def item(result: Conditioned, item_id: str):
    return next(i for i in result.model.work if i.id == item_id)


def person(result: Conditioned, name: str):
    return next(p for p in result.model.staff if p.name == name)


# -- whole workbooks -------------------------------------------------------------


def test_the_worked_example_conditions_to_its_streams_exactly():
    result = run(WORKED)
    assert result.problems == []
    expected = (FIXTURES / "worked_example.streams").read_text(encoding="utf-8")
    assert result.streams == expected


def sample_files(kind: str) -> dict[str, str]:
    if kind == "csv":
        return pull_raw.raw_files(pull_raw.read_folder(SAMPLE / "plan"))
    return pull_raw.raw_files(pull_raw.read_workbook(SAMPLE / "plan.xlsx"))


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_the_sample_workbook_conditions_without_errors(kind):
    result = condition(sample_files(kind), Settings.from_config(Config(ROOT / "config.ini")))
    assert result.counts()["fatal"] == 0 and result.counts()["error"] == 0, result.problems
    model = result.model
    assert 250 <= len(model.work) <= 350 and 30 <= len(model.staff) <= 50
    assert parse_streams(result.streams) == model
    assert set(model.params.scheduled) <= {"Apps", "Native", "Web", "QA", "UX"}
    assert all(skill in SETTINGS.skills for i in model.work for skill, _ in i.estimate)
    assert any(p.vacation for p in model.staff) and model.holidays
    assert len({i.id for i in model.work}) == len(model.work)


def test_the_csv_and_xlsx_samples_give_the_same_streams():
    settings_ = Settings.from_config(Config(ROOT / "config.ini"))
    csv_result = condition(sample_files("csv"), settings_)
    xlsx_result = condition(sample_files("xlsx"), settings_)
    assert csv_result.streams == xlsx_result.streams


def test_sheet_and_column_names_match_loosely_with_aliases():
    sheets = {
        "Work Items": [
            ["Key", "#", "Title", "Stream", "IMPORTANCE", "Effort", "Notes"],
            ["W1", 1, "One", "Track1", 2, "Apps:1", "ignored"],
        ],
        "PEOPLE": [
            ["Login", "Who", "Group", "Area", "Role", "Time off"],
            ["p1", "Ann", "Core", "Track1", "Apps", "2026-10-12"],
        ],
        "Parameters": [["Param", "Val"], ["Start Date", "2026-10-05"], ["end_date", "2026-12-18"]],
        "Days Off": [["Day", "Occasion"], ["2026-11-26", "Thanksgiving"]],
        "Unrelated": [["Anything"], ["at all"]],
    }
    result = run(sheets)
    assert result.problems == []
    [one] = result.model.work
    assert (one.id, one.rank, one.name, one.track, one.triage) == ("W1", 1, "One", "Track1", 2)
    assert one.estimate == (("Apps", 1.0),)
    assert result.model.staff[0].vacation == (dt.date(2026, 10, 12),)
    assert result.model.holidays == (dt.date(2026, 11, 26),)


def test_a_second_sheet_for_the_same_role_is_ignored_with_a_warning():
    sheets = worked()
    sheets["Backlog"] = [["Name", "Track", "Estimate"], ["Other", "Track1", "Apps:1"]]
    result = run(sheets)
    problem = only(result, sheet="Backlog")
    assert problem.severity == "warning" and "'work' is used" in problem.message
    assert len(result.model.work) == 6


def test_row_numbers_are_the_spreadsheets_and_empty_rows_are_skipped():
    sheets = worked()
    rows = sheets["work"]
    sheets["work"] = [
        [],
        ["", ""],
        *rows[:3],
        [],
        ["", "", "", "", ""],
        *rows[3:],
    ]
    sheets["work"][7][WORKED["work"][0].index("Triage")] = "soonish"  # Push notifications
    result = run(sheets)
    problem = only(result, sheet="work")
    assert (problem.row, problem.column, problem.value) == (8, "Triage", "soonish")
    assert len(result.model.work) == 6


def test_escaped_cells_are_read_as_the_user_wrote_them():
    files = raw(WORKED)
    files["work.tsv"] = files["work.tsv"].replace("Login flow", "Login\\\\flow\\nv2")
    result = condition(files, SETTINGS)
    assert item(result, "W10").name == "Login\\flow v2"
    problem = only(result, sheet="work", row=2, column="Name")
    assert problem.severity == "warning" and problem.value == "Login\\flow\nv2"


def test_a_file_that_is_not_utf8_is_read_with_a_warning():
    files = {name: text.encode("utf-8") for name, text in raw(WORKED).items()}
    files["staff.tsv"] = files["staff.tsv"].replace(b"Alice", b"Al\xe9ce")
    result = condition(files, SETTINGS)
    assert only(result, sheet="staff").severity == "warning"
    assert person(result, "Al\ufffdce").skill == "Apps"


def test_files_that_are_not_sheets_are_ignored():
    files = raw(WORKED)
    files["README.md"] = "not a sheet"
    assert condition(files, SETTINGS).streams == run(WORKED).streams


# -- estimates ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "weeks"),
    [
        ("S", 1), ("M", 2), ("L", 3), ("Q", 13), ("s", 1), ("3S", 3), ("2M", 4),
        ("2 m", 4), ("1.5L", 4.5), ("3", 3), ("1.5", 1.5), ("0", 0), (".5", 0.5), (" 4 ", 4),
    ],
)  # fmt: skip
def test_sizes_and_numbers_are_man_weeks(text, weeks):
    assert parse_weeks(text) == weeks


@pytest.mark.parametrize("text", ["XL", "-2", "abc", "", "3X", "M3", "1e3", "nan"])
def test_unreadable_sizes_are_refused(text):
    with pytest.raises(ValueError):
        parse_weeks(text)


def test_split_estimate_finds_skill_and_size_pairs():
    assert split_estimate("Apps:S, Native:2M; Web 3\nQA=1") == [
        ("Apps", "S"),
        ("Native", "2M"),
        ("Web", "3"),
        ("QA", "1"),
    ]
    assert split_estimate("3, Apps") == [("", "3"), ("Apps", "")]


def test_estimates_in_one_cell_with_sizes_counts_and_aliases():
    result = run(edited("work", 1, "Estimate", "apps:S, Native:2M, web:3, Server:0"))
    assert item(result, "W10").estimate == (("Apps", 1.0), ("Native", 4.0), ("Web", 3.0))
    problem = only(result, row=2)
    assert problem.severity == "warning" and "Apps is estimated twice" in problem.message


def test_estimates_in_a_column_per_skill_and_both_forms_together():
    sheets = worked()
    sheets["work"] = [
        ["Name", "Track", "Estimate", "Apps", "iOS", "Web", "qa"],
        ["Both", "Track1", "UX:L", "3S", "1.5", "", "q"],
        ["Columns", "Track1", "", "0", "", "2M", ""],
        ["Twice", "Track1", "Web:1", "", "", "2", ""],
    ]
    result = run(sheets)
    both, columns, twice = result.model.work
    assert both.estimate == (("UX", 3.0), ("Apps", 3.0), ("Native", 1.5), ("QA", 13.0))
    assert columns.estimate == (("Apps", 0.0), ("Web", 4.0))
    assert twice.estimate == (("Web", 1.0),)
    problem = only(result, sheet="work")
    assert (problem.severity, problem.row, problem.column, problem.value) == (
        "warning",
        4,
        "Web",
        "2",
    )


def test_an_unreadable_estimate_part_is_dropped_and_the_rest_kept():
    result = run(edited("work", 1, "Estimate", "Apps:XXL, Native:2"))
    problem = only(result, sheet="work")
    assert (problem.severity, problem.row, problem.column) == ("error", 2, "Estimate")
    assert problem.value == "Apps:XXL, Native:2" and "'XXL'" in problem.message
    assert problem.item == "W10"
    assert item(result, "W10").estimate == (("Native", 2.0),)
    assert len(result.model.work) == 6 and parse_streams(result.streams) == result.model


@pytest.mark.parametrize("text", ["Apps:-2", "Apps:abc", "3", "Apps"])
def test_every_kind_of_unreadable_part_is_an_error(text):
    result = run(edited("work", 1, "Estimate", f"{text}, Web:1"))
    assert only(result, sheet="work").severity == "error"
    assert item(result, "W10").estimate == (("Web", 1.0),)


def test_a_bad_size_in_a_skill_column_names_that_column():
    sheets = worked()
    sheets["work"] = [["Name", "Track", "Apps", "Web"], ["One", "Track1", "XXL", "M"]]
    result = run(sheets)
    problem = only(result, sheet="work")
    assert (problem.severity, problem.column, problem.value) == ("error", "Apps", "XXL")
    assert result.model.work[0].estimate == (("Web", 2.0),)


def test_an_unknown_skill_is_kept_with_a_warning():
    result = run(edited("work", 1, "Estimate", "Apps:1, Data:2"))
    problem = only(result, sheet="work")
    assert problem.severity == "warning" and "'Data'" in problem.message
    assert item(result, "W10").estimate == (("Apps", 1.0), ("Data", 2.0))


def test_a_dash_means_not_sized_yet():
    result = run(edited("work", 1, "Estimate", "-"))
    problem = only(result, sheet="work")
    assert problem.severity == "warning" and "not sized yet" in problem.message
    assert problem.item == "W10" and item(result, "W10").estimate == ()
    assert result.estimates["W10"]["unsized"] is True


# -- triage, rank, names, tracks ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "level", "severity"),
    [
        ("1", 1, None), ("1.2", 1.5, None), ("2", 2, None), ("2.1", 2.5, None),
        ("2.6", 3, None), (" 3 ", 3, None), ("", 3, None), ("0", 1, "warning"),
        ("5", 3, "warning"), ("urgent", 1, None), ("Critical", 1, None), ("P0", 1, None),
        ("must", 1, None), ("P1", 1.5, None), ("high", 1.5, None), ("P2", 2, None),
        ("Medium", 2, None), ("should", 2, None), ("P3", 2.5, None), ("low", 2.5, None),
        ("could", 2.5, None), ("P4", 3, None), ("won't", 3, None), ("Nice to have", 3, None),
        ("soonish", 3, "error"), ("hgih", 3, "error"),
    ],
)  # fmt: skip
def test_triage_levels(text, level, severity):
    result = run(edited("work", 1, "Triage", text))
    assert item(result, "W10").triage == level
    if severity is None:
        assert result.problems == []
    else:
        problem = only(result, sheet="work")
        assert (problem.severity, problem.row, problem.column) == (severity, 2, "Triage")
        assert problem.value == text


def test_a_blank_rank_is_the_position_and_a_bad_one_too_with_a_warning():
    sheets = edited("work", 2, "Rank", "")
    sheets["work"][3][1] = "high"
    result = run(sheets)
    assert item(result, "W20").rank == 2 and item(result, "W30").rank == 3
    problem = only(result, sheet="work")
    assert (problem.severity, problem.row, problem.column, problem.value) == (
        "warning",
        4,
        "Rank",
        "high",
    )


def test_a_name_with_a_tab_is_repaired_with_a_warning():
    result = run(edited("work", 1, "Name", "Login\tflow: v2"))
    problem = only(result, sheet="work")
    assert (problem.severity, problem.row, problem.column) == ("warning", 2, "Name")
    assert item(result, "W10").name == "Login flow- v2"
    assert parse_streams(result.streams) == result.model


def test_teams_tracks_and_ids_are_repaired_too():
    sheets = edited("staff", 1, "Team", "Core:A")
    sheets["staff"][2][0] = "P\t2"
    sheets["staff"][3][3] = "Track\n2"
    result = run(sheets)
    assert [(p.column, p.severity) for p in result.problems] == [
        ("Team", "warning"),
        ("ID", "warning"),
        ("Track", "warning"),
    ]
    assert person(result, "Alice").team == "Core-A"
    assert person(result, "Bob").id == "P 2"
    assert person(result, "Carol").track == "Track 2"


def test_a_blank_track_is_unassigned_with_a_warning():
    result = run(edited("work", 1, "Track", ""))
    problem = only(result, sheet="work")
    assert (problem.severity, problem.row, problem.column) == ("warning", 2, "Track")
    assert item(result, "W10").track == "Unassigned"


def test_tracks_are_unified_and_aliased():
    sheets = edited("work", 1, "Track", "  track1 ")
    sheets["work"][2][5] = "T1"  # an alias of Track1
    result = run(sheets)
    assert result.problems == []
    assert {item(result, "W10").track, item(result, "W20").track} == {"Track1"}


def test_a_track_named_all_is_renamed_with_a_warning():
    result = run(edited("work", 1, "Track", "all"))
    assert only(result, sheet="work").severity == "warning"
    assert item(result, "W10").track == "all (track)"


def test_a_work_row_without_a_name_is_dropped_the_rest_kept():
    result = run(edited("work", 1, "Name", ""))
    problem = only(result, sheet="work")
    assert (problem.severity, problem.row, problem.column) == ("error", 2, "Name")
    assert [i.id for i in result.model.work] == ["W20", "W30", "W40", "W50", "W5"]


def test_a_person_without_a_skill_is_dropped():
    result = run(edited("staff", 2, "Skill", ""))
    problem = only(result, sheet="staff")
    assert (problem.severity, problem.row, problem.column) == ("error", 3, "Skill")
    assert [p.name for p in result.model.staff] == ["Alice", "Carol", "Dan", "Eve"]


def test_a_person_has_one_skill_through_the_aliases():
    result = run(edited("staff", 1, "Skill", "server, Web"))
    assert person(result, "Alice").skill == "Apps"
    assert only(result, sheet="staff").severity == "warning"
    assert person(run(edited("staff", 1, "Skill", "ANDROID")), "Alice").skill == "Native"


# -- ids ----------------------------------------------------------------------------------


def test_derived_ids_are_stable_and_unique():
    sheets = worked()
    sheets["work"] = [["Name", "Track"], ["Login flow", "Track1"], ["login  FLOW", "Track1"]]
    sheets["work"][0].append("Estimate")
    first = run(sheets)
    digest = hashlib.sha1(b"login flow", usedforsecurity=False).hexdigest()[:8]
    assert [i.id for i in first.model.work] == [f"W-{digest}", f"W-{digest}-2"]
    sheets["work"].insert(1, ["Another", "Track1", ""])
    again = run(sheets)
    assert [i.id for i in again.model.work][1:] == [f"W-{digest}", f"W-{digest}-2"]
    assert (
        run(worked(staff=[["Name", "Track", "Skill"], ["Ann", "T", "Apps"]])).model.staff[0].id
        == "P-" + hashlib.sha1(b"ann", usedforsecurity=False).hexdigest()[:8]
    )


def test_a_derived_id_never_takes_an_id_written_later():
    digest = hashlib.sha1(b"one", usedforsecurity=False).hexdigest()[:8]
    sheets = worked()
    sheets["work"] = [
        ["ID", "Name", "Track", "Estimate"],
        ["", "One", "Track1", ""],
        [f"W-{digest}", "Two", "Track1", ""],
    ]
    result = run(sheets)
    assert [i.id for i in result.model.work] == [f"W-{digest}-2", f"W-{digest}"]
    assert result.problems == []


def test_a_duplicate_id_gets_a_fresh_one_and_nothing_is_lost():
    result = run(edited("work", 3, "ID", "W10"))
    problem = only(result, sheet="work")
    assert (problem.severity, problem.row, problem.column, problem.value) == (
        "warning",
        4,
        "ID",
        "W10",
    )
    assert [i.id for i in result.model.work] == ["W10", "W20", "W10-2", "W40", "W50", "W5"]
    assert item(result, "W10-2").name == "Push notifications"


# -- dates ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("2026-10-12", (2026, 10, 12)), ("2026-10-12 00:00:00", (2026, 10, 12)),
        ("2026/1/2", (2026, 1, 2)), ("10/12/2026", (2026, 10, 12)), ("1/2/26", (2026, 1, 2)),
        ("Oct 7, 2013", (2013, 10, 7)), ("October 7 2013", (2013, 10, 7)),
        ("sept. 3, 2026", (2026, 9, 3)), ("7 Oct 2013", (2013, 10, 7)),
        ("41554", (2013, 10, 7)), ("46307.0", (2026, 10, 12)),
    ],
)  # fmt: skip
def test_dates_in_every_format(text, day):
    assert parse_date(text) == dt.date(*day)


@pytest.mark.parametrize(
    "text",
    [
        "31/31/2013",
        "2013-02-30",
        "Foo 7, 2013",
        "12345",
        "99999",
        "abc",
        "",
        "10/12",
        "0013-10-07",
        "12/20/9999",
    ],
)
def test_unreadable_dates_are_refused_with_a_reason(text):
    with pytest.raises(ValueError, match="date"):
        parse_date(text)


def days(*pairs: tuple[int, int], year: int = 2026) -> list[dt.date]:
    return [dt.date(year, month, day) for month, day in pairs]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-10-19", days((10, 19))),
        ("10/19/2026-10/21/2026", days((10, 19), (10, 20), (10, 21))),
        ("2026-10-19 to 2026-10-20", days((10, 19), (10, 20))),
        ("2026-10-19-2026-10-20", days((10, 19), (10, 20))),
        ("Oct 30, 2026 – Nov 2, 2026", days((10, 30), (10, 31), (11, 1), (11, 2))),
        ("2026-10-19..2026-10-20", days((10, 19), (10, 20))),
        ("Oct 7, 2026, Oct 9, 2026", days((10, 7), (10, 9))),
        ("2026-10-09; 10/7/2026\n2026-10-08, 2026-10-07", days((10, 7), (10, 8), (10, 9))),
        ("Oct 7 2026; 2026-10-06 - 2026-10-07", days((10, 6), (10, 7))),
    ],
)
def test_vacation_cells_with_singles_ranges_and_several_parts(text, expected):
    assert parse_days(text) == (expected, [])


def test_bad_parts_of_a_vacation_cell_are_reported_and_the_rest_kept():
    found, errors = parse_days(
        "2026-10-19; 31/31/2013, 2026-10-23 to 2026-10-20; 2026-01-01-2027-06-01"
    )
    assert found == days((10, 19))
    assert len(errors) == 3
    assert "ends before it starts" in errors[1] and "days long" in errors[2]


def test_vacations_in_the_staff_sheet():
    value = "10/14/2013-10/15/2013; Oct 21, 2013, 31/31/2013"
    result = run(edited("staff", 2, "Vacation", value))
    problem = only(result, sheet="staff")
    assert (problem.severity, problem.row, problem.column, problem.value) == (
        "error",
        3,
        "Vacation",
        value,
    )
    assert "31/31/2013" in problem.message
    assert person(result, "Bob").vacation == tuple(days((10, 14), (10, 15), (10, 21), year=2013))


def test_a_vacation_range_that_ends_before_it_starts_is_an_error():
    result = run(edited("staff", 2, "Vacation", "2013-10-15 to 2013-10-14"))
    assert only(result, sheet="staff", row=3).severity == "error"
    assert person(result, "Bob").vacation == ()


def test_holidays_may_hold_ranges_and_bad_dates_are_dropped():
    result = run(
        worked(holidays=[["Date"], ["2013-12-24 to 2013-12-25"], ["31/31/2013"], ["Nov 28, 2013"]])
    )
    problem = only(result, sheet="holidays")
    assert (problem.severity, problem.row, problem.column) == ("error", 3, "Date")
    assert result.model.holidays == tuple(days((11, 28), (12, 24), (12, 25), year=2013))


def test_a_list_of_holidays_without_a_header_is_read():
    result = run(worked(holidays=[["2013-11-28"], ["2013-11-29"]]))
    assert result.problems == [] and len(result.model.holidays) == 2


def test_no_holidays_sheet_is_fine():
    sheets = worked()
    del sheets["holidays"]
    result = run(sheets)
    assert result.problems == [] and result.model.holidays == ()


# -- params ---------------------------------------------------------------------------------


def test_params_as_a_one_row_table():
    params = [["Start", "End", "Scheduled skills"], ["2013-10-07", "2013-12-20", "Apps; iOS; Web"]]
    assert run(worked(params=params)).streams == run(WORKED).streams


def test_params_without_a_header_row():
    params = [["Start", "2013-10-07"], ["End", "Dec 20, 2013"], ["Scheduled", "Apps,Native,Web"]]
    assert run(worked(params=params)).streams == run(WORKED).streams


def test_blank_scheduled_skills_mean_every_known_skill_in_use():
    sheets = edited("params", 3, "Value", "")
    sheets["work"][1][sheets["work"][0].index("Estimate")] = "Robots:1, Apps:3"
    result = run(sheets)
    assert result.model.params.scheduled == ("Apps", "Native", "Web", "QA")
    assert "'Robots'" in only(result, sheet="work").message


def test_an_unknown_scheduled_skill_is_kept_with_a_warning():
    result = run(edited("params", 3, "Value", "Apps, Robots"))
    problem = only(result, sheet="params")
    assert (problem.severity, problem.row) == ("warning", 4)
    assert result.model.params.scheduled == ("Apps", "Robots")


def test_unknown_and_repeated_parameters_are_warnings():
    sheets = worked()
    sheets["params"] += [["Colour", "blue"], ["Start", "2013-10-08"]]
    result = run(sheets)
    assert [(p.severity, p.row) for p in result.problems] == [("warning", 5), ("warning", 6)]
    assert result.model.params.start == dt.date(2013, 10, 7)


# -- fatal problems ---------------------------------------------------------------------------


def assert_fatal(result: Conditioned, **match) -> Problem:
    assert result.fatal and result.model is None and result.streams is None
    problem = only(result, severity="fatal")
    for key, value in match.items():
        assert getattr(problem, key) == value, (key, problem)
    return problem


def test_a_missing_sheet_is_fatal_and_the_other_sheets_are_still_checked():
    sheets = edited("work", 1, "Estimate", "Apps:XXL")
    del sheets["staff"]
    result = run(sheets)
    assert_fatal(result, sheet="staff", row=None)
    assert only(result, sheet="work").severity == "error"
    assert [p.sheet for p in result.problems] == ["work", "staff"]


@pytest.mark.parametrize(
    ("sheet", "column"),
    [("work", "Track"), ("work", "Name"), ("staff", "Skill"), ("staff", "Track")],
)
def test_a_missing_required_column_is_fatal(sheet, column):
    sheets = worked()
    sheets[sheet][0][sheets[sheet][0].index(column)] = "Something else"
    assert_fatal(run(sheets), sheet=sheet, row=1, column=column)


def test_work_needs_an_estimate_in_some_form():
    sheets = edited("work", 0, "Estimate", "Notes")
    assert_fatal(run(sheets), sheet="work", column="Estimate")


def test_an_empty_sheet_is_fatal():
    files = raw(WORKED)
    files["work.tsv"] = "\n\t\n"
    assert_fatal(condition(files, SETTINGS), sheet="work", row=None)


def test_a_sheet_with_only_a_header_is_fatal():
    # A plan of nothing would replace the shared plan for everyone: the last good one stays.
    result = run(worked(work=[WORKED["work"][0]]))
    assert_fatal(result, sheet="work", row=1)
    assert "no work items" in only(result, sheet="work").message
    staff = run(worked(staff=[WORKED["staff"][0]]))
    assert_fatal(staff, sheet="staff", row=1)


@pytest.mark.parametrize(
    ("row", "value", "needle"),
    [(2, "2013-10-07x", "not a date"), (2, "", "no Start"), (3, "Oct 1, 2013", "ends")],
)
def test_an_unreadable_quarter_is_fatal(row, value, needle):
    sheets = worked()
    sheets["params"][row - 1][1] = value
    problem = assert_fatal(run(sheets), sheet="params")
    assert needle in problem.message


def test_params_without_start_end_or_parameter_columns_is_fatal():
    assert_fatal(run(worked(params=[["A", "B"], ["x", "y"]])), sheet="params", column="Parameter")


# -- settings and output --------------------------------------------------------------------------


def test_settings_come_from_config_ini(tmp_path):
    config = Config(
        write_config(
            tmp_path,
            {
                "condition_service": {
                    "skill_aliases": "Robo=QA",
                    "track_aliases": "Track One=Track1",
                }
            },
        )
    )
    settings_ = Settings.from_config(config)
    sheets = edited("staff", 1, "Skill", "robo")
    sheets["staff"][1][3] = "track  one"
    assert person(run(sheets, settings_), "Alice").skill == "QA"
    assert person(run(sheets, settings_), "Alice").track == "Track1"


def test_problems_come_in_sheet_and_row_order():
    sheets = edited("work", 4, "Triage", "x")
    sheets["work"][1][4] = "y"  # not a triage word
    sheets["staff"][1][4] = "Robots"
    sheets["params"].append(["Colour", "blue"])
    result = run(sheets)
    assert [(p.sheet, p.row) for p in result.problems] == [
        ("work", 2),
        ("work", 5),
        ("staff", 2),
        ("params", 5),
    ]
    assert set(result.problems[0].as_dict()) == {
        "severity", "sheet", "row", "column", "value", "message", "item"
    }  # fmt: skip
    assert result.problems[0].item == "W10"
    assert set(result.problems[2].as_dict()) == {
        "severity", "sheet", "row", "column", "value", "message"
    }  # fmt: skip


CELL = st.one_of(
    st.sampled_from(["", "Apps:S", "2M", "XL", "urgent", "1.5", "Oct 7, 2013", "31/31/2013", "-"]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12),
)
SHEET = st.lists(st.lists(CELL, max_size=7), max_size=6)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(work=SHEET, staff=SHEET, params=SHEET, holidays=SHEET)
def test_any_sheet_contents_give_problems_never_a_crash(work, staff, params, holidays):
    sheets = {
        "work": [WORKED["work"][0], *work],
        "staff": [WORKED["staff"][0], *staff],
        "params": [*WORKED["params"], *params],
        "holidays": holidays,
    }
    result = run(sheets)
    assert all(p.severity in ("warning", "error", "fatal") for p in result.problems)
    if not result.fatal:
        assert parse_streams(result.streams) == result.model
