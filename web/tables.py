"""The plan page's tables as rows of cells, for ``web.exports`` to write.

Made from the view the page draws (``web.views.plan_view``, the JSON of
``GET /api/plan``), so an export says what the page says:

- **Work**: rank, id, name, track, triage, inside the triage cut or not, the
  estimate and the shortage per skill (man-weeks; a shortage is negative),
  start, dev-complete date (or ``DNF``), and, when the view has a forecast,
  P50 and P85 (a date, or ``after the quarter``). Rows in the page's order:
  the items inside the cut in rank order, then those beyond it. A scenario's
  export adds the shared plan's dev-complete date where the scenario moved it.
- **Staffing**: per skill, people available, required at the cut and net (as
  the page), whether it is short, the same in man-weeks, and who.
- **Version**: the data behind it, plan ← conditioned ← raw (commit, time),
  the track, the triage cut, the scenario and when it was exported.

A compare of two plans (``GET /api/compare``, ``web.history``) is exported the
same way (``compare_sheets``): **Compare**, one row per item as the history page
shows it (status, dates before and after, work days slipped, shortage before and
after per skill, the causes one per line), and **Versions**, the two plans.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from formats.plan import iso_date
from web.exports import Sheet

__all__ = [
    "work_table",
    "staffing_table",
    "version_table",
    "export_sheets",
    "compare_table",
    "compare_sheets",
    "DNF",
]

DNF = "DNF"
AFTER_QUARTER = "after the quarter"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _weeks(weeks: Any, skill: str) -> float | None:
    """A skill's man-weeks in an estimate or shortage map, None when the map has none."""
    return _number(weeks.get(skill)) if isinstance(weeks, dict) else None


def _end(end: Any) -> dt.date | str:
    return iso_date(end) or DNF


def has_forecast(view: dict[str, Any]) -> bool:
    """True when some row of the view carries a forecast."""
    return any(isinstance(row.get("forecast"), dict) for row in view.get("work") or [])


def work_table(view: dict[str, Any], scenario: bool = False) -> tuple[list[str], list[list]]:
    """The work table of a view: column titles and one row per item (see the docstring)."""
    skills = [str(s) for s in view.get("skills") or []]
    forecast = has_forecast(view)
    columns = ["Rank", "ID", "Name", "Track", "Triage", "In cut"]
    columns += [f"Estimate {s}" for s in skills] + [f"Shortage {s}" for s in skills]
    columns += ["Start", "Dev complete"]
    if forecast:
        columns += ["P50", "P85"]
    if scenario:
        columns += ["Shared plan dev complete"]
    rows = []
    for item in view.get("work") or []:
        row = [
            _number(item.get("rank")),
            str(item.get("id", "")),
            str(item.get("name", "")),
            str(item.get("track", "")),
            _number(item.get("triage")),
            "yes" if item.get("in_cut") else "no",
        ]
        row += [_weeks(item.get("estimate"), s) for s in skills]
        row += [_weeks(item.get("shortage"), s) for s in skills]
        row += [iso_date(item.get("start")), _end(item.get("end"))]
        if forecast:
            predicted = item.get("forecast")
            for key in ("p50", "p85"):
                if isinstance(predicted, dict):
                    row.append(iso_date(predicted.get(key)) or AFTER_QUARTER)
                else:
                    row.append(None)
        if scenario:
            mark = item.get("mark") or {}
            before = mark.get("before")
            row.append(_end(before.get("end")) if isinstance(before, dict) else None)
        rows.append(row)
    return columns, rows


def staffing_table(view: dict[str, Any]) -> tuple[list[str], list[list]]:
    """The staffing per skill of a view, with the people of each skill."""
    columns = [
        "Skill",
        "Available (people)",
        "Required (people)",
        "Net (people)",
        "Short",
        "Manpower (man-weeks)",
        "Demand (man-weeks)",
        "Staff",
    ]
    staff = view.get("staff") or {}
    rows = []
    for line in view.get("staffing") or []:
        skill = str(line.get("skill", ""))
        rows.append(
            [
                skill,
                _number(line.get("available")),
                _number(line.get("required")),
                _number(line.get("net")),
                "yes" if line.get("short") else "no",
                _number(line.get("manpower_weeks")),
                _number(line.get("demand_weeks")),
                ", ".join(str(n) for n in staff.get(skill) or []),
            ]
        )
    return columns, rows


def version_table(
    view: dict[str, Any], scenario: dict[str, Any] | None = None, now: dt.datetime | None = None
) -> tuple[list[str], list[list]]:
    """The data version behind an export: the chain of commits, then what was exported."""
    rows: list[list] = []
    chain = [link for link in view.get("chain") or [] if isinstance(link, dict)]
    if not chain and view.get("commit"):
        chain = [{"dataset": "plan", "commit": view["commit"], "time": view.get("time")}]
    for link in chain:
        rows.append([str(link.get("dataset", "")), str(link.get("commit", "")), link.get("time")])
    rows.append([None, None, None])
    rows.append(["track", view.get("track"), None])
    rows.append(["triage cut", _number(view.get("triage")), None])
    forecast = view.get("forecast") or {}
    if forecast.get("state") == "current":
        rows.append(["forecast", f"{forecast.get('runs')} runs", forecast.get("conditioned")])
    if scenario:
        rows.append(["scenario", scenario.get("name"), scenario.get("commit")])
        made_on = (scenario.get("made_on") or {}).get("plan")
        rows.append(["scenario saved on plan", made_on, scenario.get("saved")])
        for broken in scenario.get("broken") or []:
            what = f"edit {broken.get('number')} ({(broken.get('edit') or {}).get('op')})"
            rows.append(["edit no longer applies", what, broken.get("reason")])
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    rows.append(["exported", stamp, None])
    return ["Dataset", "Commit", "Time"], rows


def export_sheets(view: dict[str, Any], scenario: dict[str, Any] | None = None) -> list[Sheet]:
    """The workbook of one view: Work, Staffing and Version."""
    return [
        Sheet("Work", *work_table(view, scenario is not None)),
        Sheet("Staffing", *staffing_table(view)),
        Sheet("Version", *version_table(view, scenario)),
    ]


def _shortage_text(shortage: Any) -> str:
    """``Web -2; QA -0.5`` (man-weeks per skill), empty when nothing is short."""
    if not isinstance(shortage, dict):
        return ""
    return "; ".join(f"{skill} {weeks:g}" for skill, weeks in shortage.items() if weeks)


def compare_table(result: dict[str, Any]) -> tuple[list[str], list[list]]:
    """The rows of a compare (``GET /api/compare``): one per item, in its order."""
    columns = ["Rank", "ID", "Name", "Track", "Status", "Before", "After", "Slip (work days)"]
    columns += ["Shortage before", "Shortage after", "Why"]
    rows = []
    for row in result.get("rows") or []:
        causes = [str(c.get("text", "")) for c in row.get("causes") or [] if isinstance(c, dict)]
        rows.append(
            [
                _number(row.get("rank")),
                str(row.get("id", "")),
                str(row.get("name", "")),
                str(row.get("track", "")),
                str(row.get("status", "")),
                iso_date(row.get("before")) or (DNF if row.get("dnf_before") else None),
                iso_date(row.get("after")) or (DNF if row.get("dnf_after") else None),
                _number(row.get("days_slipped")),
                _shortage_text(row.get("shortage_before")),
                _shortage_text(row.get("shortage_after")),
                "\n".join(causes),
            ]
        )
    return columns, rows


def compare_sheets(result: dict[str, Any]) -> list[Sheet]:
    """The workbook of a compare: Compare, and Versions (the two plans and their data)."""
    versions = []
    for side in ("from", "to"):
        version = result.get(side) or {}
        versions.append([side, str(version.get("ref", "")), version.get("commit"), None])
        for link in version.get("chain") or []:
            if isinstance(link, dict) and link.get("dataset") != "plan":
                versions.append([None, link.get("dataset"), link.get("commit"), link.get("time")])
    versions.append(["track", result.get("track"), None, None])
    return [
        Sheet("Compare", *compare_table(result)),
        Sheet("Versions", ["Side", "Reference", "Commit", "Time"], versions),
    ]
