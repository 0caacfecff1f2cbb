"""DOMAIN.md's worked example as the tests use it: raw sheets, conditioner settings, the plan."""

from __future__ import annotations

import json
from pathlib import Path

import pull_raw
from condition_service.conditioner import Settings
from formats.streams import parse_streams
from planning.planner import compute_plan, plan_to_json

__all__ = ["SETTINGS", "WORKED", "raw", "PROBLEM", "worked_plan", "WORKED_EXAMPLE"]

WORKED_EXAMPLE = Path(__file__).parent / "fixtures" / "worked_example.streams"
SETTINGS = Settings(
    skills=("Apps", "Native", "Web", "QA", "UX"),
    skill_aliases={"server": "Apps", "ios": "Native", "android": "Native", "front-end": "Web"},
    track_aliases={"t1": "Track1"},
)

# The worked example of DOMAIN.md, written the way people write spreadsheets:
# mixed date formats, a range for Bob's vacation, a serial number for a holiday.
WORKED = {
    "work": [
        ["ID", "Rank", "Name", "Estimate", "Triage", "Track"],
        ["W10", 10, "Login flow", "Apps:3, Native:2", 1, "Track1"],
        ["W20", 20, "Settings page", "Web:4, QA:1", 1.5, "Track2"],
        ["W30", 30, "Push notifications", "Native:6, Apps:1", 2, "Track1"],
        ["W40", 40, "Big rewrite", "Apps:30, Web:20", 2.5, "Track2"],
        ["W50", 50, "No estimate item", "", "", "Track1"],
        ["W5", 5, "Search", "Web:1.5", 1, "Track2"],
    ],
    "staff": [
        ["ID", "Name", "Team", "Track", "Skill", "Vacation"],
        ["P1", "Alice", "Core", "Track1", "Apps", ""],
        ["P2", "Bob", "Core", "Track1", "Native", "10/14/2013-10/15/2013"],
        ["P3", "Carol", "Web team", "Track2", "Web", ""],
        ["P4", "Dan", "Core", "Track2", "Apps", ""],
        ["P5", "Eve", "QA team", "Track1", "QA", ""],
    ],
    "params": [
        ["Parameter", "Value"],
        ["Start", "Oct 7, 2013"],
        ["End", "12/20/2013"],
        ["Scheduled skills", "Apps, Native, Web"],
    ],
    "holidays": [["Date", "Name"], ["2013-11-28", "Thanksgiving"], ["41607", "Day after"]],
}


def raw(sheets: dict[str, list[list]]) -> dict[str, str]:
    """The raw files pull_raw would store for these sheets."""
    return {f"{name}.tsv": pull_raw.sheet_tsv(rows) for name, rows in sheets.items()}


PROBLEM = {
    "column": "Triage",
    "message": "triage 'x' is not a number; 3 used",
    "row": 7,
    "severity": "warning",
    "sheet": "work",
    "value": "x",
}


def worked_plan() -> dict:
    """DOMAIN.md's worked example as the planner plans it, with a problem and lineage added."""
    model = parse_streams(WORKED_EXAMPLE.read_text(encoding="utf-8"))
    plan = json.loads(plan_to_json(compute_plan(model)))
    raw, conditioned = "a" * 40, "c" * 40
    plan.update(
        problems=[dict(PROBLEM)],
        lineage={"conditioned": conditioned, "raw": raw},
        status={"stale": False, "streams_from": raw},
    )
    return plan
