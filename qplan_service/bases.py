"""What qplan_service plans from and hands out: a parsed conditioned commit and its plan.

``read_base`` parses a conditioned snapshot (streams, problems, status, estimates);
``finish_plan`` adds the base's problems, lineage and status to a plan and puts each
item's own problems on it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from formats.conditioned import ESTIMATES, PROBLEMS, STATUS, STREAMS, load_estimates
from formats.streams import TRIAGE_LEVELS, Model, StreamsError, parse_streams
from mesh.snapshot import Snapshot
from planning.planner import ALL, compute_plan

__all__ = [
    "Base",
    "PlanFailed",
    "read_base",
    "read_problems",
    "finish_plan",
    "empty_plan",
    "mark_items",
    "mark_rows",
    "whatif_runs",
    "summary",
]


class PlanFailed(Exception):
    """The planner (built-in or filter) gave no usable plan for this input."""


@dataclass
class Base:
    """One conditioned commit, parsed: what a plan and a what-if start from."""

    conditioned: str
    raw: str | None
    model: Model | None  # None: the commit has no streams
    problems: list[dict[str, Any]]
    status: dict[str, Any]
    plan_commit: str | None = None
    estimates: dict[str, Any] | None = None  # conditioned/estimates.json, for forecasts
    _plan: dict[str, Any] | None = field(default=None, repr=False)

    def plan(self) -> dict[str, Any]:
        """The built-in plan of this base, with problems, lineage and status (made once)."""
        if self._plan is None:
            self._plan = finish_plan(
                compute_plan(self.model) if self.model is not None else empty_plan(), self
            )
        return self._plan


def read_problems(data: bytes) -> list[dict[str, Any]]:
    """The records of problems.jsonl; a line that is not one becomes a problem itself."""
    problems = []
    for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            problem = json.loads(line)
        except ValueError:
            problem = None
        if not isinstance(problem, dict):
            problem = _problem(f"{PROBLEMS} line {number} is not a JSON object")
        problems.append(problem)
    return problems


def read_base(snapshot: Snapshot) -> Base:
    """Parse a conditioned snapshot; raises PlanFailed for streams that do not parse."""
    problems = read_problems(snapshot.files.get(PROBLEMS, b""))
    try:
        status = json.loads(snapshot.files.get(STATUS, b"{}"))
    except ValueError:
        status = None
    if not isinstance(status, dict):
        problems.append(_problem(f"{STATUS} is not a JSON object"))
        status = {}
    model = None
    if STREAMS in snapshot.files:
        try:
            model = parse_streams(snapshot.text(STREAMS))
        except (StreamsError, UnicodeDecodeError) as exc:
            raise PlanFailed(f"{STREAMS} of conditioned@{snapshot.commit}: {exc}") from None
    return Base(
        conditioned=snapshot.commit or "",
        raw=snapshot.lineage.get("raw"),
        model=model,
        problems=problems,
        status={"stale": bool(status.get("stale")), "streams_from": status.get("streams_from")},
        estimates=load_estimates(snapshot.files.get(ESTIMATES)),
    )


def _problem(message: str) -> dict[str, Any]:
    """A problem record for conditioned data the planner could not read."""
    return {
        "severity": "error",
        "sheet": "",
        "row": None,
        "column": "",
        "value": "",
        "message": message,
    }


def empty_plan() -> dict[str, Any]:
    """The plan of a commit without streams: nothing planned, problems to show."""
    return {
        "params": None,
        "skills": [],
        "triages": [int(t) if t.is_integer() else t for t in TRIAGE_LEVELS],
        "tracks": [],
        "by_track": {},
    }


def finish_plan(plan: dict[str, Any], base: Base) -> dict[str, Any]:
    """``plan`` with the base's problems, lineage and status added (a new dict).

    Each item also carries the problems of its row (``problems``, when it has any) and
    ``unsized: true`` when the sheet did not size it yet: nothing that changes what an item
    means is only in the list at the bottom.
    """
    mark_items(plan, base.problems, base.estimates)
    return {
        **plan,
        "problems": base.problems,
        "lineage": {"conditioned": base.conditioned, "raw": base.raw},
        "status": base.status,
    }


WHATIF_FORECAST_BUDGET = 200_000  # runs x items a what-if's forecast may cost (~25 ms)
MIN_WHATIF_RUNS = 20


def whatif_runs(wanted: int, items: int) -> int:
    """The runs of a what-if's own forecast: ``wanted``, fewer on a big plan (at least 20)."""
    if items <= 0:
        return wanted
    return max(min(wanted, WHATIF_FORECAST_BUDGET // items), min(wanted, MIN_WHATIF_RUNS))


def mark_items(
    plan: dict[str, Any], problems: list[dict[str, Any]], estimates: dict[str, Any] | None
) -> None:
    """Put each item's own problems and its unsized flag on it, in every track's view."""
    views = (plan.get("by_track") or {}).values()
    mark_rows((item for view in views for item in view.get("work") or []), problems, estimates)


def mark_rows(
    rows: Iterable[dict[str, Any]],
    problems: list[dict[str, Any]],
    estimates: dict[str, Any] | None,
) -> None:
    """Put each row's own problems and its unsized flag on it."""
    by_item: dict[str, list[dict[str, Any]]] = {}
    for problem in problems:
        item = problem.get("item")
        if isinstance(item, str):
            by_item.setdefault(item, []).append(problem)
    written = (estimates or {}).get("items") or {}
    unsized = {key for key, value in written.items() if (value or {}).get("unsized")}
    if not by_item and not unsized:
        return
    for item in rows:
        found = by_item.get(item.get("id"))
        if found:
            item["problems"] = found
        if item.get("id") in unsized:
            item["unsized"] = True


def summary(plan: dict[str, Any]) -> str:
    """``120 work items in 6 tracks, 40 not finishing`` (of track All)."""
    work = plan.get("by_track", {}).get(ALL, {}).get("work", [])
    tracks = max(len(plan.get("tracks", [])) - 1, 0)
    dnf = sum(1 for item in work if isinstance(item, dict) and item.get("end") is None)
    return f"{len(work)} work items in {tracks} tracks, {dnf} not finishing"
