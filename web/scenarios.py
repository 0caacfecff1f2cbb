"""Saved scenarios: what-ifs kept in the store under a name, re-applied to the newest plan.

A scenario is a list of what-if edits (``formats.scenarios``). Saving one
checks it against the shared plan on screen (every edit must apply: the
planner computes it) and commits the whole ``scenarios`` dataset again with
it added or replaced, ``Source: plan@<that plan>``; deleting one is a commit
too. The web is the only writer, and its writes go one at a time (a lock), so
two saves never lose each other.

Opening a scenario recomputes it against the newest shared plan, not the one
it was saved on. An edit that no longer applies — its item, person, track or
skill left the sheet — is set apart as ``broken`` with the reason, never
dropped in silence: first by what the plan itself says (the items, tracks,
skills and people it has), then by what the planner refuses (``edit N (op):
...``), one edit at a time. The rest are applied.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from formats.scenarios import (
    SCENARIOS_DATASET,
    ScenarioError,
    check_edits,
    check_name,
    dataset_files,
    load_scenarios,
)
from mesh.checks import ErrorCode
from mesh.errors import ProtocolError, RemoteError, RequestTimeout
from web.plandiff import diff_plans, item_marks
from web.plans import Plans, PlanVersion
from web.views import plan_view

__all__ = [
    "Applied",
    "Problem",
    "Scenarios",
    "refused_edit",
    "marked_view",
    "split_edits",
]

log = logging.getLogger(__name__)

ITEM_OPS = frozenset({"set_estimate", "set_rank", "set_triage", "set_track"})
REFUSED = re.compile(r"^edit (\d+)(?: \([^)]*\))?: (.*)$", re.DOTALL)
MISSING = frozenset({ErrorCode.UNKNOWN_COMMIT, ErrorCode.UNKNOWN_DATASET})


class Problem(Exception):
    """A scenario request that cannot be answered: an HTTP status and a sentence."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Applied:
    """A scenario's edits applied to the newest shared plan."""

    shared: PlanVersion  # the shared plan it was applied to
    plan: dict[str, Any]  # the scenario's plan (the shared one when no edit applies)
    forecast: dict[str, Any] | None  # the what-if's own forecast (the shared one's likewise)
    base: dict[str, Any]  # the shared plan it is marked against (the what-if's base)
    applied: list[int] = field(default_factory=list)  # 1-based numbers of the applied edits
    broken: list[dict[str, Any]] = field(default_factory=list)  # {"number", "edit", "reason"}
    changes: list[dict[str, Any]] = field(default_factory=list)


def _plan_names(plan: dict[str, Any]) -> tuple[set[str], set[str], set[str], set[str]]:
    """The item ids, tracks (not All), skills and people's names a plan knows."""
    by_track = plan.get("by_track") or {}
    items: set[str] = set()
    people: set[str] = set()
    for data in by_track.values():
        items.update(str(item.get("id")) for item in (data or {}).get("work") or [])
        for names in ((data or {}).get("staff") or {}).values():
            people.update(str(name) for name in names or [])
    tracks = {str(t) for t in plan.get("tracks") or by_track} - {"All"}
    return items, tracks, {str(s) for s in plan.get("skills") or []}, people


def split_edits(plan: dict[str, Any], edits: list[dict[str, Any]]) -> tuple[list[int], list]:
    """The numbers (1-based) of the edits that still name what ``plan`` has, and the others.

    Each other edit is ``{"number", "edit", "reason"}``. A person the plan does not name may
    be a person's id (the plan keeps only names): the planner has the last word on those.
    """
    items, tracks, skills, _ = _plan_names(plan)
    kept, broken = [], []
    for number, edit in enumerate(edits, start=1):
        op = edit.get("op")
        reason = None
        if op in ITEM_OPS and str(edit.get("item")) not in items:
            reason = f"item {edit.get('item')!r} is not in the sheet"
        elif op in ("add_people", "set_track") and edit.get("track") not in tracks:
            reason = f"track {edit.get('track')!r} is not in the sheet"
        elif op == "add_people" and edit.get("skill") not in skills:
            reason = f"skill {edit.get('skill')!r} is not in the plan"
        elif op == "set_estimate" and isinstance(edit.get("estimate"), dict):
            gone = [s for s in edit["estimate"] if s not in skills]
            if gone:
                reason = f"skill {gone[0]!r} is not in the plan"
        if reason is None:
            kept.append(number)
        else:
            broken.append({"number": number, "edit": edit, "reason": reason})
    return kept, broken


def refused_edit(message: str) -> tuple[int, str] | None:
    """(the edit's number, the reason) of a planner refusal naming one edit, else None."""
    match = REFUSED.match(message.strip())
    return (int(match.group(1)), match.group(2)) if match else None


def marked_view(
    base: dict[str, Any], plan: dict[str, Any], forecast: Any, track: str, level: float
) -> tuple[dict, dict]:
    """The page's view of a what-if plan, each row marked before -> after against ``base``
    (the shared plan), and the diff of the two: what ``/api/whatif`` and a scenario show."""
    view = plan_view(plan, track, level, forecast)
    marks = item_marks(base, plan, view["track"])
    for row in view["work"]:
        row["mark"] = marks.get(str(row.get("id")))
    return view, diff_plans(base, plan)


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Scenarios:
    """Read, save, delete and apply the scenarios of the store, through ``plans``' clients."""

    def __init__(self, plans: Plans) -> None:
        self.plans = plans
        self._writing = asyncio.Lock()

    def _failed(self, exc: Exception, doing: str) -> Problem:
        """The Problem for a failed store or planner request."""
        if isinstance(exc, RemoteError) and exc.code == ErrorCode.UNKNOWN_DATASET:
            return Problem(
                503,
                f"the store keeps no {SCENARIOS_DATASET}: add {SCENARIOS_DATASET} to "
                "[snapshot_service] datasets in config.ini and restart the snapshot service",
            )
        if isinstance(exc, RemoteError):
            return Problem(404 if exc.code in MISSING else 400, f"{doing}: {exc}")
        return Problem(503, f"{doing}: {exc}")

    async def read(self) -> tuple[str | None, dict[str, dict[str, Any]]]:
        """The dataset's newest commit (None: never written) and its scenarios by name."""
        try:
            snapshot = await self.plans.store.get(SCENARIOS_DATASET, None)
        except (RemoteError, RequestTimeout, ProtocolError) as exc:
            raise self._failed(exc, "reading the scenarios") from None
        if not snapshot.commit:
            return None, {}
        found, problems = load_scenarios(snapshot.files)
        for line in problems:
            log.warning("scenarios@%s: %s (left out)", snapshot.commit[:12], line)
        return snapshot.commit, found

    async def one(self, name: str) -> tuple[str | None, dict[str, Any]]:
        """The dataset's commit and one scenario; Problem 404 when there is none of that name."""
        commit, found = await self.read()
        if name not in found:
            known = ", ".join(sorted(found, key=str.casefold)[:20]) or "none saved yet"
            raise Problem(404, f"no scenario named {name[:80]!r} (scenarios: {known})")
        return commit, found[name]

    async def save(self, name: Any, edits: Any) -> dict[str, Any]:
        """Check and commit a scenario; the answer of ``POST /api/scenarios``."""
        try:
            name, edits = check_name(name), check_edits(edits)
        except ScenarioError as exc:
            raise Problem(400, str(exc)) from None
        applied = await self.apply(edits)
        if applied.broken:
            first = applied.broken[0]
            what = f"edit {first['number']} ({first['edit'].get('op')})"
            raise Problem(400, f"{what}: {first['reason']}; nothing was saved")
        shared = applied.shared
        scenario = {
            "name": name,
            "edits": edits,
            "made_on": {"plan": shared.commit, **_upstream(shared.lineage)},
            "saved": _now(),
        }
        async with self._writing:
            _, found = await self.read()
            created = name not in found
            found[name] = scenario
            answer = await self._put(found, f"plan@{shared.commit}", f"Save scenario {name}")
        log.info("scenario %r saved: scenarios@%s", name, str(answer.get("commit"))[:12])
        return {"created": created, "commit": answer.get("commit"), "scenario": scenario}

    async def delete(self, name: str) -> dict[str, Any]:
        """Commit the dataset without one scenario; the answer of ``DELETE /api/scenarios/N``."""
        async with self._writing:
            _, found = await self.read()
            if name not in found:
                raise Problem(404, f"no scenario named {name[:80]!r}")
            del found[name]
            answer = await self._put(found, "", f"Delete scenario {name}")
        log.info("scenario %r deleted: scenarios@%s", name, str(answer.get("commit"))[:12])
        return {"deleted": name, "commit": answer.get("commit")}

    async def _put(self, found: dict, source: str, message: str) -> dict[str, Any]:
        try:
            return await self.plans.store.put(
                SCENARIOS_DATASET, dataset_files(found), source=source, message=message,
                producer="web",
            )  # fmt: skip
        except (RemoteError, RequestTimeout, ProtocolError) as exc:
            raise self._failed(exc, "the store did not take the scenario") from None

    async def apply(self, edits: list[dict[str, Any]]) -> Applied:
        """The edits applied to the newest shared plan; those that no longer apply set apart."""
        shared = self.plans.current
        if shared is None:
            raise Problem(503, "waiting for data: no plan has been computed yet")
        numbers, broken = split_edits(shared.plan, edits)
        applied = Applied(shared, shared.plan, shared.forecast, shared.plan, broken=broken)
        while numbers:
            try:
                answer = await self.plans.whatif(
                    shared.lineage.get("conditioned"), [edits[n - 1] for n in numbers]
                )
            except RemoteError as exc:
                refused = refused_edit(str(exc)) if exc.code == ErrorCode.BAD_REQUEST else None
                if refused is None or not 1 <= refused[0] <= len(numbers):
                    raise Problem(400, f"the scenario was refused: {exc}") from None
                number = numbers.pop(refused[0] - 1)
                broken.append({"number": number, "edit": edits[number - 1], "reason": refused[1]})
                continue
            except RequestTimeout as exc:
                raise Problem(503, f"the planner is not answering: {exc}") from None
            except ProtocolError as exc:
                raise Problem(503, f"bad answer from the planner: {exc}") from None
            if not isinstance(answer.get("plan"), dict):
                raise Problem(503, "the planner's answer has no plan")
            applied.plan, applied.forecast = answer["plan"], answer.get("forecast")
            applied.base = await self.plans.marked_against(answer.get("base"), shared)
            applied.changes = answer.get("changes") or []
            break
        applied.applied = numbers
        broken.sort(key=lambda b: b["number"])
        return applied


def _upstream(lineage: dict[str, Any]) -> dict[str, Any]:
    """The conditioned and raw commits of a plan's lineage."""
    return {k: lineage[k] for k in ("conditioned", "raw") if isinstance(lineage.get(k), str)}
